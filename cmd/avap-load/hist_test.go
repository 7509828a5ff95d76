package main

import (
	"math"
	"testing"
	"time"
)

func TestHistIndexValueRoundTrip(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 63, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 999_999_999, 1 << 40, math.MaxInt64} {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("index not monotonic at %d: %d < %d", v, i, prev)
		}
		prev = i
		if i >= histBuckets {
			t.Fatalf("index %d of %d out of range", i, v)
		}
		got := histValue(i)
		if v < histLinear {
			if got != v {
				t.Errorf("value(index(%d)) = %d, want exact", v, got)
			}
			continue
		}
		if rel := math.Abs(float64(got-v)) / float64(v); rel > 1.0/histSub {
			t.Errorf("value(index(%d)) = %d, relative error %.4f", v, got, rel)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Microsecond},
		{0.9, 900 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{0.999, 999 * time.Microsecond},
		{1, 1000 * time.Microsecond},
		{0, time.Microsecond},
	} {
		got := h.Quantile(tc.q)
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 0.016 {
			t.Errorf("Quantile(%v) = %v, want %v ±1.6%%", tc.q, got, tc.want)
		}
	}
	if h.Count() != 1000 || h.Max() != time.Millisecond {
		t.Errorf("count %d max %v", h.Count(), h.Max())
	}
	if m := h.Mean(); m != 500500*time.Nanosecond {
		t.Errorf("mean %v", m)
	}
}

func TestHistClampsToExactMinMax(t *testing.T) {
	var h Hist
	h.Record(1_000_003)
	if got := h.Quantile(0.5); got != 1_000_003 {
		t.Errorf("single value quantile = %d, want exact", got)
	}
	var empty Hist
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 || empty.Max() != 0 {
		t.Error("empty histogram is not all zero")
	}
	h.Record(-5) // clock oddities count as zero
	if h.Quantile(0) != 0 {
		t.Errorf("min = %v", h.Quantile(0))
	}
}

func TestHistMerge(t *testing.T) {
	var a, b, all Hist
	for i := range 500 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Hist
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Hist{})
	if m != all {
		t.Fatalf("merged histogram differs: p99 %v vs %v", m.Quantile(.99), all.Quantile(.99))
	}
}
