package edge_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/avapmesh/avap/edge"
)

// logLines parses the JSON lines of buf.
func logLines(t *testing.T, mu *sync.Mutex, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestTraceIDInLogs: with tracing on, the access line and handler lines
// carry the request's trace id, the one echoed in traceparent.
func TestTraceIDInLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := newServer(t, edge.Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil)), AccessLog: true, Tracer: tp})
	s.App().Get("/traced", func(c *fiber.Ctx) error {
		s.Logger(c).Info("inside handler")
		return c.SendString(edge.TraceID(c))
	})
	resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, "/traced", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	tpHdr := resp.Header.Get("traceparent")
	if len(tpHdr) != 55 {
		t.Fatalf("traceparent = %q", tpHdr)
	}
	want := tpHdr[3:35]
	lines := logLines(t, &mu, &buf)
	if len(lines) != 2 {
		t.Fatalf("want handler and access lines, got %v", lines)
	}
	for _, m := range lines {
		if m["trace_id"] != want {
			t.Errorf("line %v: trace_id want %s", m, want)
		}
	}

	// Untraced server: no empty trace_id attribute.
	buf.Reset()
	s2 := newServer(t, edge.Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil)), AccessLog: true})
	get(t, s2, "/api/v1/info")
	for _, m := range logLines(t, &mu, &buf) {
		if _, ok := m["trace_id"]; ok {
			t.Errorf("untraced line has trace_id: %v", m)
		}
	}
}

// TestHandlerPanic: a panicking handler answers 500 with the JSON envelope,
// the process survives, and the panic is logged at error level with the
// request id and stack (what the Sentry hook of cmd/avap sends).
func TestHandlerPanic(t *testing.T) {
	for _, telemetryOn := range []bool{false, true} {
		var buf bytes.Buffer
		var mu sync.Mutex
		o := edge.Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))}
		if telemetryOn {
			o.Tracer = sdktrace.NewTracerProvider()
		}
		s := newServer(t, o)
		s.App().Get("/boom", func(*fiber.Ctx) error { panic("kaboom") })
		req := httptest.NewRequest(http.MethodGet, "/boom", nil)
		req.Header.Set("X-Request-ID", "panic-1")
		resp, body := do(t, s, req)
		if resp.StatusCode != 500 || body["code"] != "AVAP_INTERNAL" || body["request_id"] != "panic-1" {
			t.Fatalf("telemetry %v: %d %v", telemetryOn, resp.StatusCode, body)
		}
		var found bool
		for _, m := range logLines(t, &mu, &buf) {
			if m["msg"] == "handler panic" {
				found = true
				if m["level"] != "ERROR" || m["panic"] != "kaboom" || m["request_id"] != "panic-1" || !strings.Contains(m["stack"].(string), "observe_panic") {
					t.Errorf("panic line %v", m)
				}
			}
		}
		if !found {
			t.Errorf("telemetry %v: no panic line", telemetryOn)
		}
		if r2, _ := get(t, s, "/api/v1/info"); r2.StatusCode != 200 {
			t.Errorf("after panic: %d", r2.StatusCode)
		}
	}
}

// TestAccessLogLine: one line per request with the documented fields; the
// access log bypasses the redaction wrapper, so it must redact the path
// itself (an API key pasted into a URL).
func TestAccessLogLine(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	s := newServer(t, edge.Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil)), AccessLog: true})
	const key = "avap_0123456789ab_" + "s3cr3ts3cr3ts3cr3ts3cr3t"
	req := httptest.NewRequest(http.MethodGet, "/x/demo/"+key+"?token=abc", nil)
	req.Header.Set("X-Request-ID", "access-1")
	if _, err := s.App().Test(req, -1); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, &mu, &buf)
	if len(lines) != 1 {
		t.Fatalf("want one access line, got %v", lines)
	}
	m := lines[0]
	if m["msg"] != "request" || m["request_id"] != "access-1" || m["method"] != "GET" {
		t.Errorf("access line %v", m)
	}
	path, _ := m["path"].(string)
	if strings.Contains(buf.String(), "s3cr3t") || !strings.HasPrefix(path, "/x/demo/avap_0123456789ab") {
		t.Errorf("path not redacted: %q", path)
	}
	for _, k := range []string{"status", "duration", "bytes_in", "bytes_out", "remote"} {
		if _, ok := m[k]; !ok {
			t.Errorf("access line lacks %s: %v", k, m)
		}
	}
}
