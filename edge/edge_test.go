package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avapmesh/avap/edge"
	"github.com/gofiber/fiber/v2"
)

func newServer(t *testing.T, o edge.Options) *edge.Server {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s, err := edge.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, s *edge.Server, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", req.Method, req.URL, b, err)
		}
	}
	return resp, m
}

func get(t *testing.T, s *edge.Server, path string) (*http.Response, map[string]any) {
	return do(t, s, httptest.NewRequest(http.MethodGet, path, nil))
}

func okCheck(name string) edge.Check {
	return edge.Check{Name: name, Func: func(context.Context) error { return nil }}
}

func TestHealthOK(t *testing.T) {
	s := newServer(t, edge.Options{Checks: []edge.Check{okCheck("nats"), okCheck("executor")}})
	for _, path := range []string{"/api/v1/health", "/health"} {
		resp, m := get(t, s, path)
		if resp.StatusCode != 200 || m["status"] != "ok" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, m)
		}
		comps := m["components"].(map[string]any)
		for _, name := range []string{"nats", "executor", "edge"} {
			if c, _ := comps[name].(map[string]any); c["status"] != "ok" {
				t.Errorf("%s: component %s = %v", path, name, comps[name])
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, m := get(t, s, path); resp.StatusCode != 200 || m["status"] != "ok" {
			t.Errorf("%s: %d %v", path, resp.StatusCode, m)
		}
	}
}

func TestHealthUnavailable(t *testing.T) {
	bad := edge.Check{Name: "nats", Func: func(context.Context) error { return errors.New("disconnected") }}
	s := newServer(t, edge.Options{Checks: []edge.Check{bad, okCheck("executor")}})
	resp, m := get(t, s, "/api/v1/health")
	if resp.StatusCode != 503 || m["status"] != "unavailable" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	c := m["components"].(map[string]any)["nats"].(map[string]any)
	if c["status"] != "unavailable" || c["error"] != "disconnected" {
		t.Errorf("nats = %v", c)
	}
	if resp, _ := get(t, s, "/readyz"); resp.StatusCode != 503 {
		t.Errorf("readyz = %d", resp.StatusCode)
	}
	// Liveness does not depend on components.
	if resp, _ := get(t, s, "/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthz = %d", resp.StatusCode)
	}
}

func TestInfo(t *testing.T) {
	start := time.Now().Add(-90 * time.Second)
	s := newServer(t, edge.Options{
		Info: edge.Info{Name: "avap", Version: "v1.2.3", Commit: "abc", BuildDate: "2025-01-01T00:00:00Z",
			GoVersion: "go1.26", NodeID: "n1", Roles: []string{"edge", "executor"}, StartTime: start},
		InfoExtra: func(context.Context) map[string]any { return map[string]any{"mesh": "x"} },
	})
	resp, m := get(t, s, "/api/v1/info")
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	want := map[string]any{"name": "avap", "version": "v1.2.3", "commit": "abc", "go_version": "go1.26",
		"node_id": "n1", "build_date": "2025-01-01T00:00:00Z", "mesh": "x"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if up, _ := m["uptime_seconds"].(float64); up < 89 {
		t.Errorf("uptime_seconds = %v", m["uptime_seconds"])
	}
	if _, ok := m["start_time"].(string); !ok {
		t.Error("no start_time")
	}
	if r, _ := m["roles"].([]any); len(r) != 2 {
		t.Errorf("roles = %v", m["roles"])
	}
}

func TestRequestID(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
	s := newServer(t, edge.Options{Logger: log, AccessLog: true})
	s.App().Get("/echo", func(c *fiber.Ctx) error {
		s.Logger(c).Info("inside handler")
		return c.SendString(edge.RequestID(c))
	})

	req := httptest.NewRequest(http.MethodGet, "/echo", nil)
	req.Header.Set("X-Request-ID", "client-id-1")
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if got := resp.Header.Get("X-Request-ID"); got != "client-id-1" || string(body) != "client-id-1" {
		t.Fatalf("echo = %q body %q", got, body)
	}
	mu.Lock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	mu.Unlock()
	if len(lines) != 2 {
		t.Fatalf("want handler line and access line, got %q", lines)
	}
	for _, l := range lines {
		var m map[string]any
		_ = json.Unmarshal([]byte(l), &m)
		if m["request_id"] != "client-id-1" {
			t.Errorf("log line without request id: %s", l)
		}
	}

	for _, bad := range []string{"", "has space", strings.Repeat("x", 200), "semi;colon"} {
		req := httptest.NewRequest(http.MethodGet, "/echo", nil)
		if bad != "" {
			req.Header.Set("X-Request-ID", bad)
		}
		resp, _ := s.App().Test(req, -1)
		got := resp.Header.Get("X-Request-ID")
		if got == "" || got == bad {
			t.Errorf("X-Request-ID %q -> %q, want a generated id", bad, got)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestSecurityHeadersAndErrors(t *testing.T) {
	s := newServer(t, edge.Options{BodyLimit: 16})
	s.App().Post("/p", func(c *fiber.Ctx) error { return c.SendStatus(204) })

	resp, m := get(t, s, "/nope")
	if resp.StatusCode != 404 || m["success"] != false || m["code"] != "AVAP_NOT_FOUND" || m["request_id"] == "" {
		t.Errorf("404: %d %v", resp.StatusCode, m)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers missing: %v", resp.Header)
	}
	resp, m = do(t, s, httptest.NewRequest(http.MethodGet, "/p", nil))
	if resp.StatusCode != 405 || m["code"] != "AVAP_METHOD_NOT_ALLOWED" {
		t.Errorf("405: %d %v", resp.StatusCode, m)
	}
	// fasthttp refuses an oversized body while reading it, so this needs a
	// real listener rather than app.Test.
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	r, err := http.Post("http://"+s.Addr().String()+"/p", "text/plain", strings.NewReader(strings.Repeat("x", 64)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 413 || !strings.Contains(string(b), "AVAP_TOO_LARGE") || r.Header.Get("X-Request-ID") == "" {
		t.Errorf("413: %d %s %v", r.StatusCode, b, r.Header)
	}
	if resp, _ := do(t, s, httptest.NewRequest(http.MethodPost, "/p", strings.NewReader("small"))); resp.StatusCode != 204 {
		t.Errorf("small body: %d", resp.StatusCode)
	}
}

func TestValidate(t *testing.T) {
	_, err := edge.New(edge.Options{Addr: "nope", ReadTimeout: -1, BodyLimit: -5, Checks: []edge.Check{{}}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"addr", "read timeout", "body limit", "check 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestDrain: a request in flight when Shutdown begins completes; readiness
// turns 503 during the shutdown delay; afterwards the port is closed.
func TestDrain(t *testing.T) {
	s := newServer(t, edge.Options{ShutdownDelay: 200 * time.Millisecond, Grace: 5 * time.Second})
	release := make(chan struct{})
	entered := make(chan struct{})
	s.App().Get("/slow", func(c *fiber.Ctx) error {
		close(entered)
		<-release
		return c.SendString("done")
	})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-s.Ready()
	base := "http://" + s.Addr().String()

	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{body: string(b)}
	}()
	<-entered

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()

	// During the shutdown delay the listener is open but readiness is 503.
	deadline := time.Now().Add(2 * time.Second)
	for !s.Draining() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("readyz while draining = %d", resp.StatusCode)
	}

	time.Sleep(300 * time.Millisecond) // past the delay: listener closing, slow request still running
	close(release)
	if r := <-slow; r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(base + "/healthz"); err == nil {
		t.Error("request after shutdown succeeded")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestStartListenError(t *testing.T) {
	a := newServer(t, edge.Options{})
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	b := newServer(t, edge.Options{Addr: a.Addr().String()})
	if err := b.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "edge listen") {
		t.Fatalf("err = %v", err)
	}
}
