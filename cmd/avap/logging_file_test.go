package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// TestLogFile: log.file.path gets the same lines as stderr (not colored),
// and the file rotates at max_size_mb keeping max_backups files.
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.Log.Format = "json"
	cfg.Log.File.Path = filepath.Join(dir, "logs", "avap.log")
	cfg.Log.File.MaxSizeMB = 1
	cfg.Log.File.MaxBackups = 2
	var stderr bytes.Buffer
	lv := new(slog.LevelVar)
	logs, err := newProcessLogger(&stderr, cfg, lv, buildInfo{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	log := logs.Log
	log.Info("first line", "component", "test")
	pad := strings.Repeat("x", 1000)
	for range 2600 { // ~2.7 MB: two rotations
		log.Debug("not logged at info")
		log.Info("filler", "pad", pad)
	}
	logs.Access.With("component", "edge").Info("request", "path", "/x", "status", 200)
	log.Info("last line")
	logs.Close()

	if !strings.Contains(stderr.String(), `"msg":"first line"`) || !strings.Contains(stderr.String(), `"msg":"last line"`) {
		t.Fatal("stderr lacks the lines")
	}
	// The access log goes to the same outputs, in order.
	for name, out := range map[string]string{"stderr": stderr.String(), "file": string(mustRead(t, cfg.Log.File.Path))} {
		i, j := strings.Index(out, `"msg":"request","component":"edge","path":"/x","status":200}`), strings.Index(out, `"msg":"last line"`)
		if i < 0 || j < i {
			t.Fatalf("%s: access line missing or out of order", name)
		}
	}
	cur, err := os.ReadFile(cfg.Log.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	last := strings.Split(strings.TrimSpace(string(cur)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &m); err != nil || m["msg"] != "last line" {
		t.Fatalf("last file line %q: %v", last[len(last)-1], err)
	}
	if strings.Contains(string(cur), "not logged") {
		t.Error("file got a debug line at level info")
	}
	if len(cur) > 1<<20 {
		t.Errorf("current file %d bytes, want rotation at 1 MB", len(cur))
	}
	// lumberjack prunes old backups in the background after a rotation.
	deadline := time.Now().Add(5 * time.Second)
	for {
		backups, _ := filepath.Glob(filepath.Join(dir, "logs", "avap-*.log"))
		if len(backups) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backups %v, want 2", backups)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sentryRecorder is a sentry.Transport keeping events in memory.
type sentryRecorder struct {
	mu     sync.Mutex
	events []*sentry.Event
}

func (r *sentryRecorder) Flush(time.Duration) bool              { return true }
func (r *sentryRecorder) FlushWithContext(context.Context) bool { return true }
func (r *sentryRecorder) Configure(sentry.ClientOptions)        {}
func (r *sentryRecorder) Close()                                {}
func (r *sentryRecorder) SendEvent(e *sentry.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}
func (r *sentryRecorder) take() (es []*sentry.Event) {
	r.mu.Lock()
	es, r.events = r.events, nil
	r.mu.Unlock()
	return es
}
func (r *sentryRecorder) String() string { return "sentryRecorder" }
func newSentryTest(t *testing.T, rate float64) (*slog.Logger, *sentryRecorder) {
	t.Helper()
	rec := &sentryRecorder{}
	sc := SentryConfig{DSN: "https://public@sentry.example.com/1", Environment: "test", SampleRate: rate}
	h, err := newSentryHandler(slog.NewJSONHandler(&bytes.Buffer{}, nil), sc, buildInfo{Version: "1.2.3"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return slog.New(h), rec
}

// TestSentryEvents: recovered panics and 5xx answers reach Sentry with
// request_id and trace_id tags; other lines do not; sample_rate thins 5xx
// only.
func TestSentryEvents(t *testing.T) {
	log, rec := newSentryTest(t, 1)
	edgeLog := log.With("component", "edge")
	edgeLog.Error("handler panic", "request_id", "r-1", "trace_id", "0af7651916cd43dd8448eb211c80319c", "panic", "boom", "stack", "goroutine 1 [running]:\nmain.f()")
	edgeLog.Warn("request", "request_id", "r-2", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "method", "POST", "path", "/api/v1/execute", "status", 503)
	edgeLog.Info("request", "request_id", "r-3", "method", "GET", "path", "/", "status", 200)
	edgeLog.Warn("request", "request_id", "r-4", "method", "GET", "path", "/x", "status", 404)
	edgeLog.Error("something else failed", "err", "x")
	log.With("component", "executor").Error("executor: panic serving request", "panic", "nil map", "stack", "...")

	es := rec.take()
	if len(es) != 3 {
		t.Fatalf("want 3 events (2 panics, one 5xx), got %d: %+v", len(es), es)
	}
	p := es[0]
	if p.Level != sentry.LevelFatal || p.Tags["request_id"] != "r-1" || p.Tags["trace_id"] != "0af7651916cd43dd8448eb211c80319c" ||
		p.Tags["component"] != "edge" || len(p.Exception) != 1 || p.Exception[0].Value != "boom" || p.Environment != "test" || p.Release != "avap@1.2.3" {
		t.Errorf("panic event %+v", p)
	}
	if p.Contexts["panic"]["stack"] == nil {
		t.Error("panic event lacks the stack")
	}
	e := es[1]
	if e.Level != sentry.LevelError || e.Tags["request_id"] != "r-2" || e.Tags["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		e.Tags["status"] != "503" || !strings.Contains(e.Message, "503 POST /api/v1/execute") {
		t.Errorf("5xx event %+v", e)
	}
	if es[2].Tags["component"] != "executor" || es[2].Level != sentry.LevelFatal {
		t.Errorf("executor panic event %+v", es[2])
	}

	log0, rec0 := newSentryTest(t, 0)
	log0.Warn("request", "request_id", "r-5", "status", 500)
	log0.Error("handler panic", "panic", "boom")
	if es := rec0.take(); len(es) != 1 || es[0].Level != sentry.LevelFatal {
		t.Errorf("sample_rate 0: want only the panic, got %+v", es)
	}
}

// TestSentryBelowLogLevel: with log.level error, a 5xx line (warn) is not
// printed but still reaches Sentry.
func TestSentryBelowLogLevel(t *testing.T) {
	var out bytes.Buffer
	rec := &sentryRecorder{}
	sc := SentryConfig{DSN: "https://public@sentry.example.com/1", SampleRate: 1}
	h, err := newSentryHandler(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelError}), sc, buildInfo{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	log := slog.New(h)
	log.Warn("request", "request_id", "r-9", "status", 502)
	log.Info("not printed")
	if out.Len() != 0 {
		t.Errorf("printed below level: %s", out.String())
	}
	if es := rec.take(); len(es) != 1 || es[0].Tags["request_id"] != "r-9" {
		t.Errorf("events %+v", es)
	}
}

func TestSentryBadDSN(t *testing.T) {
	cfg := defaultConfig()
	cfg.Sentry.DSN = "not a dsn"
	if _, err := newProcessLogger(&bytes.Buffer{}, cfg, new(slog.LevelVar), buildInfo{}); err == nil || !strings.Contains(err.Error(), "sentry.dsn") {
		t.Fatalf("err = %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
