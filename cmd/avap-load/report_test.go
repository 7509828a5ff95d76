package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func sampleReport() *runReport {
	var lr loadResult
	for i := 1; i <= 100; i++ {
		lr.record(200, time.Duration(i)*time.Millisecond, nil)
	}
	lr.record(503, time.Millisecond, nil)
	lr.record(0, 0, errTest("connection reset"))
	lr.Elapsed = 2 * time.Second
	base := scenarioReport{Name: "baseline", Topology: "baseline"}
	base.fillFromLoad(&lr, 1)
	base.RPS = 1000
	triv := scenarioReport{Name: "trivial", Topology: "serve"}
	triv.fillFromLoad(&lr, 1)
	triv.RPS = 450
	triv.Server = serverStats{PeakRSSMB: 42.25, CPUSeconds: 1.5, CPUPerReqUs: 12.34, StartToReadyMs: 180}
	batch := scenarioReport{Name: "batch10", RPS: 100, ItemsPerS: 1000, Status: map[string]uint64{"200": 1}}
	over := scenarioReport{Name: "overload", RPS: 900, Overload: &overloadStats{SaturationRPS: 450, OfferedRPS: 900, Shed: 7, ShedLat: latencyMs{P99: 1.5}}}
	failed := scenarioReport{Name: "split", Failed: "nats exited: exit status 1\nmore"}
	rep := &runReport{Date: "2026-01-02T03:04:05Z", Engine: "fasthttp", Connections: 64, DurationS: 10, WarmupS: 2,
		Host:      hostInfo{CPUs: 2, LoadAvgBefore: "0.1 0.2 0.3"},
		Scenarios: []scenarioReport{base, triv, batch, failed, over}}
	setRatios(rep.Scenarios)
	return rep
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestFillFromLoad(t *testing.T) {
	rep := sampleReport()
	b := rep.Scenarios[0]
	if b.Requests != 102 || b.Errors != 1 || b.Non2xx != 1 || b.Status["200"] != 100 || b.Status["503"] != 1 {
		t.Errorf("counts: %+v", b)
	}
	if b.ErrorSamples[0] != "connection reset" {
		t.Errorf("error samples %v", b.ErrorSamples)
	}
	if math.Abs(b.Latency.P50-50) > 1 || math.Abs(b.Latency.P99-99) > 1.6 || b.Latency.Max != 100 {
		t.Errorf("latency %+v", b.Latency)
	}
}

func TestSetRatios(t *testing.T) {
	rep := sampleReport()
	if r := rep.Scenarios[1].RatioToBaseline; r != 0.45 {
		t.Errorf("trivial ratio %v", r)
	}
	if r := rep.Scenarios[3].RatioToBaseline; r != 0 {
		t.Errorf("failed scenario has ratio %v", r)
	}
	noBase := []scenarioReport{{Name: "trivial", RPS: 5}}
	setRatios(noBase)
	if noBase[0].RatioToBaseline != 0 {
		t.Error("ratio without baseline")
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTable(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "avap-load 2026-01-02T03:04:05Z  engine=fasthttp connections=64 duration=10s warmup=2s cpus=2") {
		t.Errorf("header line: %q", lines[0])
	}
	for _, want := range []string{
		"  scenario   req/s  x base",
		"p99.9 ms",
		"\n  trivial      450    0.45",
		"42.2   1.50        12.3       180",
		"  split     FAILED\n",
		"split: FAILED: nats exited: exit status 1\n",
		"batch10: 1000 items/s",
		"overload: saturation 450 req/s, offered 900/s",
		"shed 503 7 p99 1.50 ms",
		"baseline: status 200=100 503=1 errors [connection reset]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: every row of the table has the same width.
	width := len(lines[1])
	for _, l := range append(lines[2:5], lines[6]) {
		if len(l) != width {
			t.Errorf("row width %d != header %d: %q", len(l), width, l)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	scs := back["scenarios"].([]any)
	triv := scs[1].(map[string]any)
	if triv["ratio_to_baseline"] != 0.45 || triv["latency_ms"].(map[string]any)["p99_9"] == nil {
		t.Errorf("trivial: %v", triv)
	}
	if triv["server"].(map[string]any)["cpu_us_per_req"] != 12.34 {
		t.Errorf("server: %v", triv["server"])
	}
	if _, ok := scs[4].(map[string]any)["overload"].(map[string]any)["shed_503"]; !ok {
		t.Errorf("overload: %v", scs[4])
	}
}

func TestSlope(t *testing.T) {
	if s := slope([]float64{0, 1, 2, 3}, []float64{10, 12, 14, 16}); math.Abs(s-2) > 1e-9 {
		t.Errorf("slope %v", s)
	}
	if s := slope([]float64{1}, []float64{1}); s != 0 {
		t.Errorf("one point: %v", s)
	}
	if s := slope([]float64{1, 1}, []float64{1, 5}); s != 0 {
		t.Errorf("vertical: %v", s)
	}
}

func TestWriteSoakTable(t *testing.T) {
	var buf bytes.Buffer
	writeSoakTable(&buf, &soakReport{Rate: 20000, SaturationRPS: 40000, DurationS: 600, Requests: 12_000_000,
		IdleRSSMB: 30, RSSFirstMB: 60, RSSLastMB: 61, RSSMaxMB: 62, SlopeMBPerMin: 0.1, BytesPerReq: 0.09})
	for _, want := range []string{"rate 20000 req/s (saturation 40000) for 600s: 12000000 requests", "slope 0.10 MB/min"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("soak table lacks %q:\n%s", want, buf.String())
		}
	}
}
