package main

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	"github.com/prometheus/client_golang/prometheus"
)

// udpLines collects the StatsD lines a local UDP listener receives.
func udpLines(t *testing.T) (addr string, read func(want ...string) []string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var got []string
	return pc.LocalAddr().String(), func(want ...string) []string {
		t.Helper()
		buf := make([]byte, 65536)
		deadline := time.Now().Add(5 * time.Second)
		for {
			missing := false
			for _, w := range want {
				if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, w) }) {
					missing = true
				}
			}
			if !missing {
				return got
			}
			_ = pc.SetReadDeadline(deadline)
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("want lines starting %q; got %q (%v)", want, got, err)
			}
			got = append(got, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
		}
	}
}

func TestStatsDExport(t *testing.T) {
	addr, read := udpLines(t)
	reg := prometheus.NewRegistry()
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avap_test_runs_total", Help: "x"}, []string{"outcome"})
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "avap_test_depth", Help: "x"})
	dur := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "avap_test_duration_seconds", Help: "x"})
	reg.MustRegister(runs, depth, dur)

	c, err := statsd.New(addr, statsd.WithNamespace("pre."), statsd.WithoutTelemetry(),
		statsd.WithoutOriginDetection(), statsd.WithoutClientSideAggregation())
	if err != nil {
		t.Fatal(err)
	}
	e := newStatsdExporter(reg, c, StatsDConfig{Interval: time.Hour, Tags: true}, slog.New(slog.DiscardHandler))

	runs.WithLabelValues("ok").Add(3)
	depth.Set(7)
	dur.Observe(0.5)
	dur.Observe(1.5)
	e.push()
	read("pre.avap_test_runs_total:3|c|#outcome:ok", "pre.avap_test_depth:7|g",
		"pre.avap_test_duration_seconds_count:2|c", "pre.avap_test_duration_seconds_sum:2|g",
		"pre.avap_test_duration_seconds_avg:1|g")

	// Counters go as deltas since the previous push.
	runs.WithLabelValues("ok").Add(2)
	depth.Set(1)
	e.push()
	read("pre.avap_test_runs_total:2|c|#outcome:ok", "pre.avap_test_depth:1|g")

	// Start/Shutdown: the final push on shutdown sends what is left.
	runs.WithLabelValues("failed").Inc()
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	read("pre.avap_test_runs_total:1|c|#outcome:failed")
}

func TestStatsDPlainNames(t *testing.T) {
	addr, read := udpLines(t)
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "avap_breaker_state", Help: "x"}, []string{"name"})
	reg.MustRegister(g)
	g.WithLabelValues("registry:l3").Set(2)
	c, err := statsd.New(addr, statsd.WithoutTelemetry(), statsd.WithoutOriginDetection(), statsd.WithoutClientSideAggregation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := newStatsdExporter(reg, c, StatsDConfig{Interval: time.Hour}, slog.New(slog.DiscardHandler))
	e.push()
	lines := read("avap_breaker_state.registry_l3:2|g")
	for _, l := range lines {
		if strings.Contains(l, "|#") {
			t.Errorf("tags sent in plain mode: %q", l)
		}
	}
}

func TestStatsDConfigValidate(t *testing.T) {
	if ps := (StatsDConfig{Address: "nohostport", Interval: time.Second}).validate(); len(ps) != 1 {
		t.Errorf("bad address accepted: %v", ps)
	}
	if ps := (StatsDConfig{Address: "127.0.0.1:8125"}).validate(); len(ps) != 1 {
		t.Errorf("zero interval accepted: %v", ps)
	}
	if ps := (StatsDConfig{Address: "localhost:8125", Interval: time.Second}).validate(); len(ps) != 0 {
		t.Errorf("good config refused: %v", ps)
	}
}
