package main

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the precision of a Hist: each power of two is split into
// 2^histSubBits linear buckets, so a recorded value is off by less than
// 1/2^histSubBits (1.6%) of itself.
const histSubBits = 6

const (
	histSub     = 1 << histSubBits // buckets per power of two
	histLinear  = 2 * histSub      // values below this are exact
	histBuckets = histLinear + (64-histSubBits-1)*histSub
)

// Hist is a log-linear latency histogram in nanoseconds with bounded memory
// (an HDR histogram with two significant digits). The zero value is empty and
// ready to use; it is not safe for concurrent use (give each worker its own
// and Merge them).
type Hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64 // ns
	min    int64
	max    int64
}

func histIndex(v int64) int {
	if v < histLinear {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1 // >= 1
	return histLinear + (shift-1)*histSub + int(uint64(v)>>shift) - histSub
}

// histValue returns the midpoint of bucket i.
func histValue(i int) int64 {
	if i < histLinear {
		return int64(i)
	}
	shift := (i-histLinear)/histSub + 1
	low := int64((i-histLinear)%histSub+histSub) << shift
	return low + (int64(1)<<shift)/2
}

// Record adds one observation.
func (h *Hist) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds all observations of o to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of observations.
func (h *Hist) Count() uint64 { return h.n }

// Max is the largest observation, exact.
func (h *Hist) Max() time.Duration { return time.Duration(h.max) }

// Mean is the average observation, exact.
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the q-quantile (0 <= q <= 1) by the nearest-rank method:
// the smallest recorded value such that at least q of all observations are
// less than or equal to it, within the histogram's precision and clamped to
// the exact minimum and maximum.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histValue(i)
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
