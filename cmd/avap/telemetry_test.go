package main

import (
	"encoding/hex"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

var updateMetrics = flag.Bool("update-metrics", false, "rewrite deploy/prometheus/metrics.txt from a scrape")

// metricsListFile lists every series name the server can export; the
// deploy module's test checks dashboards and alert rules against it.
const metricsListFile = "../../deploy/prometheus/metrics.txt"

// conditionalMetrics exist only when their component runs (jobs runner,
// audit, PostgreSQL, registry cache with trusted keys), so a plain
// `avap serve` scrape does not show them. Keep in step with
// telemetry_components.go.
var conditionalMetrics = []string{
	"avap_jobs_started_total", "avap_jobs_succeeded_total", "avap_jobs_failed_total", "avap_jobs_retried_total",
	"avap_jobs_dead_lettered_total", "avap_jobs_lost_total", "avap_jobs_canceled_total", "avap_jobs_running",
	"avap_jobs_workers", "avap_jobs_callbacks_delivered_total", "avap_jobs_callbacks_failed_total",
	"avap_audit_events_total", "avap_audit_backlog", "avap_audit_sink_written_total", "avap_audit_sink_write_errors_total",
	"avap_pg_pool_connections", "avap_pg_pool_idle_connections", "avap_pg_pool_acquired_connections",
	"avap_pg_pool_max_connections", "avap_pg_pool_acquires_total", "avap_pg_pool_empty_acquires_total",
	"avap_pg_pool_acquire_wait_seconds_total", "avap_pg_pool_new_connections_total", "avap_pg_up",
	"avap_registry_lookups_total",
	// telemetry_more.go: breakers once used, registry role, jobs streams
	"avap_breaker_state", "avap_breaker_transitions_total", "avap_breaker_opened_total", "avap_breaker_rejected_total",
	"avap_breaker_state_since_timestamp_seconds", "avap_registry_actions_total", "avap_jobs_queued", "avap_jobs_dlq_size",
}

// otlpReceiver is an in-process OTLP/HTTP collector stand-in.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var ex coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &ex); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	for _, rs := range ex.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (r *otlpReceiver) snapshot() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

// TestTelemetryEndToEnd runs `avap serve` with tracing on (OTEL_* env, an
// in-process OTLP receiver), drives a small workload and checks that the
// metrics moved and that one /execute produced a connected trace
// edge -> NATS -> executor -> outside command.
func TestTelemetryEndToEnd(t *testing.T) {
	bin := avapBin(t)
	rcv := &otlpReceiver{}
	otlp := httptest.NewServer(rcv)
	defer otlp.Close()

	// A local upstream the traced script calls with RequestGet, so the trace
	// also holds the outside-command span (loopback allowed explicitly).
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()

	addr := freeAddr(t)
	p := &proc{addr: addr}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = envWithout("AVAP_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "NO_COLOR=1",
		"AVAP_EXECUTOR_EGRESS_ALLOW=127.0.0.1/32",
		"AVAP_HTTP_ADDR="+addr, "OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL,
		"OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_TRACES_SAMPLER=always_on")
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		p.wait(t)
	}()
	if !waitHealthy("http://"+addr+"/healthz", 15*time.Second) {
		t.Fatalf("serve not healthy:\n%s", p.output())
	}
	base := "http://" + addr
	post := func(body string) *http.Response {
		resp, err := http.Post(base+"/api/v1/execute", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const runs = 5
	var traced string
	for i := range runs {
		script := `addVar(x, 1)\naddResult(x)`
		if i == runs-1 {
			script = `RequestGet(\"` + upstream.URL + `/x\", \"\", \"\", r)\naddResult(r)`
		}
		resp := post(`{"script":"` + script + `"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("execute: %d\n%s", resp.StatusCode, p.output())
		}
		traced = resp.Header.Get("traceparent")
	}
	post(`{"script":"x = 1 / 0"}`)                                                          // runtime error
	post(`{"script":"i = 0\nwhile(True)\n  i = i + 1\nend()", "limits":{"max_steps":100}}`) // a limit
	if resp, err := http.Get(base + "/no/such/route"); err == nil {
		resp.Body.Close()
	}

	fams := scrape(t, base+"/metrics")
	if _, err := http.Get(base + "/api/v1/metrics"); err != nil {
		t.Fatal(err)
	}
	want := func(name string, labels map[string]string, min float64) {
		t.Helper()
		v, ok := value(fams[name], labels)
		if !ok || v < min {
			var all []string
			if f := fams[name]; f != nil {
				for _, m := range f.Metric {
					if m.Counter != nil && m.Counter.GetValue() > 0 {
						all = append(all, m.String())
					}
				}
			}
			t.Errorf("%s%v = %v (found %v), want >= %v; nonzero: %v", name, labels, v, ok, min, all)
		}
	}
	want("avap_http_requests_total", map[string]string{"route": "/api/v1/execute", "method": "POST", "code": "2xx"}, runs)
	want("avap_http_requests_total", map[string]string{"route": "other", "code": "4xx"}, 1)
	want("avap_http_request_duration_seconds", map[string]string{"route": "/api/v1/execute"}, runs)
	want("avap_executor_runs_total", map[string]string{"outcome": "ok", "lane": "interactive"}, runs)
	want("avap_executor_run_duration_seconds", map[string]string{"lane": "interactive"}, runs)
	want("avap_vm_steps_total", nil, 1)
	want("avap_nats_request_duration_seconds", map[string]string{"lane": "interactive"}, runs)
	want("avap_config_last_reload_successful", nil, 1)
	want("avap_config_last_reload_success_timestamp_seconds", nil, 1)
	want("avap_nats_connected", nil, 1)
	want("go_goroutines", nil, 1)
	for _, n := range []string{"avap_executor_queue_depth", "avap_executor_rejections_total", "avap_nats_reconnects_total",
		"process_resident_memory_bytes", "avap_executor_limit_hits_total", "avap_build_info"} {
		if fams[n] == nil {
			t.Errorf("no %s in the scrape", n)
		}
	}
	checkMetricsList(t, fams)

	// The trace of the last /execute: edge HTTP span -> NATS client span ->
	// executor span, one trace id, each the parent of the next.
	sc, ok := parseTP(traced)
	if !ok {
		t.Fatalf("no traceparent on the /execute response (%q)", traced)
	}
	var spans []*tracepb.Span
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans = nil
		for _, s := range rcv.snapshot() {
			if hex.EncodeToString(s.TraceId) == sc {
				spans = append(spans, s)
			}
		}
		if len(spans) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	byName := map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[strings.Fields(s.Name)[0]] = s
	}
	httpSpan, natsSpan, execSpan, cmdSpan := byName["POST"], byName["nats"], byName["execute"], byName["command"]
	if httpSpan == nil || natsSpan == nil || execSpan == nil || cmdSpan == nil {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("trace %s has spans %q, want POST /api/v1/execute, nats request, execute, command RequestGet", sc, names)
	}
	if cmdSpan.Name != "command RequestGet" || string(cmdSpan.ParentSpanId) != string(execSpan.SpanId) {
		t.Errorf("command span %q, parent %x, want child of the execute span %x", cmdSpan.Name, cmdSpan.ParentSpanId, execSpan.SpanId)
	}
	if string(natsSpan.ParentSpanId) != string(httpSpan.SpanId) || string(execSpan.ParentSpanId) != string(natsSpan.SpanId) {
		t.Errorf("spans not connected: http %x, nats %x (parent %x), execute parent %x",
			httpSpan.SpanId, natsSpan.SpanId, natsSpan.ParentSpanId, execSpan.ParentSpanId)
	}
	if httpSpan.Name != "POST /api/v1/execute" {
		t.Errorf("http span name %q", httpSpan.Name)
	}
}

func parseTP(v string) (traceID string, ok bool) {
	parts := strings.Split(v, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return "", false
	}
	return parts[1], true
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value sums the samples of f whose labels include labels (counters,
// gauges, and histogram/summary sample counts).
func value(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			ok := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					ok = true
				}
			}
			if !ok {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Summary != nil:
			sum += float64(m.Summary.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, found
}

// checkMetricsList compares the series names the server exports with
// deploy/prometheus/metrics.txt (-update-metrics rewrites it).
func checkMetricsList(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	set := map[string]bool{}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			set[name+"_bucket"], set[name+"_sum"], set[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			set[name], set[name+"_sum"], set[name+"_count"] = true, true, true
		default:
			set[name] = true
		}
	}
	for _, n := range conditionalMetrics {
		set[n] = true
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	got := strings.Join(names, "\n") + "\n"
	if *updateMetrics {
		if err := os.WriteFile(metricsListFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(metricsListFile)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/avap -run TestTelemetryEndToEnd -update-metrics)", err)
	}
	old := map[string]bool{}
	for _, n := range strings.Fields(string(b)) {
		old[n] = true
	}
	for _, n := range names {
		if !old[n] && strings.HasPrefix(n, "avap_") {
			t.Errorf("%s is exported but missing from %s (rerun with -update-metrics)", n, metricsListFile)
		}
	}
	for n := range old {
		if !set[n] && strings.HasPrefix(n, "avap_") {
			t.Errorf("%s is listed in %s but no longer exported (rerun with -update-metrics)", n, metricsListFile)
		}
	}
}
