package edge_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/nats/natstest"
)

// fakeExecutor answers exec requests with whatever reply fn builds; fn
// returning nil means "vanish" (no reply).
type fakeExecutor struct {
	calls atomic.Int64
	mu    sync.Mutex
	reqs  []bus.Request
}

func startFake(t *testing.T, nc *nats.Conn, lane bus.Lane, fn func(n int64, req *bus.Request) *bus.Reply) *fakeExecutor {
	t.Helper()
	f := &fakeExecutor{}
	subj := bus.CompileSubject
	if lane != "" {
		subj, _ = bus.ExecSubject(lane)
	}
	_, err := nc.QueueSubscribe(subj, bus.ExecutorQueue, func(m *nats.Msg) {
		var req bus.Request
		if err := req.UnmarshalMsgpack(m.Data); err != nil {
			t.Errorf("fake executor: %v", err)
			return
		}
		req.Params = append(json.RawMessage(nil), req.Params...) // outlive m
		n := f.calls.Add(1)
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		if rep := fn(n, &req); rep != nil {
			rep.ExecutorID = "fake"
			_ = m.Respond(rep.AppendMsgpack(nil))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return f
}

func meshConn(t *testing.T) *nats.Conn {
	t.Helper()
	s := natstest.Run(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func post(t *testing.T, s *edge.Server, path, ctype, body string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return do(t, s, req)
}

func ok(result string) *bus.Reply {
	return &bus.Reply{Success: true, Result: json.RawMessage(result), Variables: json.RawMessage(`{}`), Stats: bus.Stats{Steps: 3, DurationUS: 7, PeakMemory: 11}}
}

func TestExecuteEnvelopeAndMapping(t *testing.T) {
	nc := meshConn(t)
	f := startFake(t, nc, bus.LaneInteractive, func(_ int64, req *bus.Request) *bus.Reply {
		switch {
		case strings.Contains(req.Script, "status"):
			r := ok(`{"error":"missing token"}`)
			r.Status = 401
			r.Logs = []string{"a \"quoted\" <log>"}
			return r
		case strings.Contains(req.Script, "syntax"):
			return &bus.Reply{Code: bus.CodeSyntax, Status: 400, Error: "expected )", Line: 2, Col: 5}
		case strings.Contains(req.Script, "slow"):
			return &bus.Reply{Code: bus.CodeTimeout, Status: 504, Error: "execution timeout"}
		case strings.Contains(req.Script, "busy"):
			return &bus.Reply{Code: bus.CodeOverloaded, Status: 503, Error: "busy"}
		}
		return ok(`{"x":5}`)
	})
	s := newServer(t, edge.Options{Conn: nc})

	resp, m := post(t, s, "/api/v1/execute?a=1&b=x&a=2", "application/json",
		`{"script":"addVar(x,5)\naddResult(x)","variables":{"v":1},"params":{"p":true},"limits":{"max_steps":100,"timeout_ms":250},"extra":"e"}`)
	if resp.StatusCode != 200 || m["success"] != true || fmt.Sprint(m["result"]) != "map[x:5]" ||
		m["request_id"] != resp.Header.Get("X-Request-ID") || m["request_id"] == "" {
		t.Fatalf("success: %d %v", resp.StatusCode, m)
	}
	st := m["stats"].(map[string]any)
	if st["steps"] != 3.0 || st["duration_us"] != 7.0 || st["peak_memory"] != 11.0 {
		t.Errorf("stats %v", st)
	}
	req := f.reqs[0]
	if req.Script != "addVar(x,5)\naddResult(x)" || string(req.Variables) != `{"v":1}` || string(req.Params) != `{"p":true}` ||
		len(req.Query) != 3 || req.Query[2] != (bus.Param{Name: "a", Value: "2"}) || req.Limits.MaxSteps != 100 ||
		req.Limits.Timeout != 250*time.Millisecond || !bytes.Contains(req.Body, []byte(`"extra":"e"`)) ||
		req.DeadlineUnixNano == 0 || req.Lane != bus.LaneInteractive || req.ID != m["request_id"] {
		t.Errorf("request as the executor saw it: %+v", req)
	}

	resp, m = post(t, s, "/api/v1/execute", "", `{"script":"status"}`)
	if resp.StatusCode != 401 || m["success"] != true || m["logs"].([]any)[0] != `a "quoted" <log>` {
		t.Errorf("_status: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, s, "/api/v1/execute", "application/json", `{"script":"syntax"}`)
	pos, _ := m["position"].(map[string]any)
	if resp.StatusCode != 400 || m["success"] != false || m["code"] != "AVAP_SYNTAX" || pos["line"] != 2.0 || pos["column"] != 5.0 {
		t.Errorf("syntax: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, s, "/api/v1/execute", "application/json", `{"script":"slow"}`)
	if resp.StatusCode != 504 || m["code"] != "AVAP_TIMEOUT" {
		t.Errorf("timeout: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, s, "/api/v1/execute", "application/json", `{"script":"busy"}`)
	if resp.StatusCode != 503 || m["code"] != "AVAP_OVERLOADED" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("overloaded: %d %v %v", resp.StatusCode, m, resp.Header)
	}
}

func TestExecuteRequestErrors(t *testing.T) {
	nc := meshConn(t)
	startFake(t, nc, bus.LaneInteractive, func(int64, *bus.Request) *bus.Reply { return ok(`{}`) })
	s := newServer(t, edge.Options{Conn: nc, BodyLimit: 1 << 10})
	for name, tc := range map[string]struct {
		ctype, body string
		status      int
		code        string
	}{
		"bad json":       {"application/json", `{"script": "x"`, 400, "AVAP_BAD_REQUEST"},
		"not an object":  {"application/json", `["x"]`, 400, "AVAP_BAD_REQUEST"},
		"empty":          {"application/json", ``, 400, "AVAP_BAD_REQUEST"},
		"no script":      {"application/json", `{"variables":{}}`, 400, "AVAP_BAD_REQUEST"},
		"both":           {"application/json", `{"script":"a","command":"b"}`, 400, "AVAP_BAD_REQUEST"},
		"script type":    {"application/json", `{"script":5}`, 400, "AVAP_BAD_REQUEST"},
		"variables type": {"application/json", `{"script":"a","variables":[1]}`, 400, "AVAP_BAD_REQUEST"},
		"limits unknown": {"application/json", `{"script":"a","limits":{"steps":1}}`, 400, "AVAP_BAD_REQUEST"},
		"media":          {"application/xml", `{"script":"a"}`, 415, "AVAP_UNSUPPORTED_MEDIA"},
		"form not json":  {"application/x-www-form-urlencoded", `script=a`, 415, "AVAP_UNSUPPORTED_MEDIA"},
	} {
		resp, m := post(t, s, "/api/v1/execute", tc.ctype, tc.body)
		if resp.StatusCode != tc.status || m["success"] != false || (tc.code != "" && m["code"] != tc.code) {
			t.Errorf("%s: %d %v", name, resp.StatusCode, m)
		}
	}
	resp, _ := get(t, s, "/api/v1/execute")
	if resp.StatusCode != 405 {
		t.Errorf("GET execute: %d", resp.StatusCode)
	}
	resp, _ = get(t, s, "/api/v1/nope")
	if resp.StatusCode != 404 {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}
}

func TestExecuteNoExecutor(t *testing.T) {
	nc := meshConn(t)
	s := newServer(t, edge.Options{Conn: nc})
	resp, m := post(t, s, "/api/v1/execute", "application/json", `{"script":"a"}`)
	if resp.StatusCode != 503 || m["code"] != "AVAP_NO_EXECUTOR" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
}

// TestExecuteRetry: a request that never ran is resent once; a vanished
// executor's request is resent only for a script known to be side-effect
// free.
func TestExecuteRetry(t *testing.T) {
	nc := meshConn(t)
	f := startFake(t, nc, bus.LaneInteractive, func(n int64, req *bus.Request) *bus.Reply {
		switch {
		case req.Script == "drain" && n == 1:
			return &bus.Reply{Code: bus.CodeShuttingDown, Status: 503, Error: "shutting down"}
		case n == 4 || n == 7:
			return nil // the second call of each vanish script gets lost
		}
		r := ok(`{"n":` + fmt.Sprint(n) + `}`)
		r.SideEffectFree = req.Script != "vanish-effects"
		return r
	})
	s := newServer(t, edge.Options{Conn: nc, Execute: edge.ExecuteOptions{Margin: 50 * time.Millisecond}})
	resp, m := post(t, s, "/api/v1/execute", "application/json", `{"script":"drain"}`)
	if resp.StatusCode != 200 || f.calls.Load() != 2 {
		t.Fatalf("shutting down then retried: %d %v calls %d", resp.StatusCode, m, f.calls.Load())
	}
	// Side-effect free: learn it (call 3), lose call 4, retried as call 5.
	for _, want := range []int{200, 200} {
		resp, m = post(t, s, "/api/v1/execute", "application/json", `{"script":"vanish","limits":{"timeout_ms":100}}`)
		if resp.StatusCode != want {
			t.Errorf("side-effect free: %d %v", resp.StatusCode, m)
		}
	}
	if f.calls.Load() != 5 {
		t.Errorf("calls = %d, want 5", f.calls.Load())
	}
	// With side effects: learn (call 6), lose call 7: 504, never re-run.
	for _, want := range []int{200, 504} {
		resp, m = post(t, s, "/api/v1/execute", "application/json", `{"script":"vanish-effects","limits":{"timeout_ms":100}}`)
		if resp.StatusCode != want {
			t.Errorf("side effects: %d %v", resp.StatusCode, m)
		}
	}
	if f.calls.Load() != 7 {
		t.Errorf("calls = %d, want 7", f.calls.Load())
	}
}

func TestExecuteGzip(t *testing.T) {
	nc := meshConn(t)
	startFake(t, nc, bus.LaneInteractive, func(int64, *bus.Request) *bus.Reply {
		return ok(`{"big":"` + strings.Repeat("abc", 500) + `"}`)
	})
	s := newServer(t, edge.Options{Conn: nc})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/execute", strings.NewReader(`{"script":"a"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("not compressed: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if !bytes.Contains(b, []byte(`"success":true`)) {
		t.Errorf("body %s", b)
	}
}

func TestBatch(t *testing.T) {
	nc := meshConn(t)
	f := startFake(t, nc, bus.LaneBatch, func(_ int64, req *bus.Request) *bus.Reply {
		if req.Script == "fail" {
			return &bus.Reply{Code: bus.CodeRuntime, Status: 400, Error: "boom", Line: 1, Col: 1}
		}
		time.Sleep(time.Duration(len(req.Script)) * time.Millisecond) // finish out of order
		return ok(`{"s":"` + req.Script + `"}`)
	})
	s := newServer(t, edge.Options{Conn: nc, Execute: edge.ExecuteOptions{MaxBatchItems: 5}})
	resp, m := post(t, s, "/api/v1/execute/batch?q=1", "application/json",
		`{"items":[{"script":"xxxxxxxxxxxx","id":"a"},{"script":"fail"},{"nope":1},{"script":"x","params":{"k":1}}]}`)
	if resp.StatusCode != 200 || m["success"] != true {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	items := m["items"].([]any)
	if len(items) != 4 {
		t.Fatalf("items %v", items)
	}
	want := []struct {
		id      any
		status  float64
		success bool
	}{{"a", 200, true}, {1.0, 400, false}, {2.0, 400, false}, {3.0, 200, true}}
	for i, w := range want {
		it := items[i].(map[string]any)
		if it["id"] != w.id || it["status"] != w.status || it["success"] != w.success {
			t.Errorf("item %d: %v", i, it)
		}
	}
	if r := items[3].(map[string]any)["result"].(map[string]any); r["s"] != "x" {
		t.Errorf("item 3 result %v", r)
	}
	if f.calls.Load() != 3 {
		t.Errorf("executor calls %d", f.calls.Load())
	}
	for _, r := range f.reqs {
		if len(r.Query) != 1 || r.Lane != bus.LaneBatch {
			t.Errorf("batch item request %+v", r)
		}
	}
	resp, m = post(t, s, "/api/v1/execute/batch", "application/json", `{"items":[{},{},{},{},{},{}]}`)
	if resp.StatusCode != 413 || m["code"] != "AVAP_TOO_LARGE" {
		t.Errorf("too many: %d %v", resp.StatusCode, m)
	}
	s2 := newServer(t, edge.Options{Conn: nc, Execute: edge.ExecuteOptions{MaxBatchBytes: 64}})
	resp, m = post(t, s2, "/api/v1/execute/batch", "application/json", `{"items":[{"script":"`+strings.Repeat("x", 64)+`"}]}`)
	if resp.StatusCode != 413 || m["code"] != "AVAP_TOO_LARGE" {
		t.Errorf("too large: %d %v", resp.StatusCode, m)
	}
	resp, _ = post(t, s, "/api/v1/execute/batch", "application/json", `{"things":[]}`)
	if resp.StatusCode != 400 {
		t.Errorf("no items: %d", resp.StatusCode)
	}
}

func TestExecuteFile(t *testing.T) {
	nc := meshConn(t)
	f := startFake(t, nc, bus.LaneInteractive, func(int64, *bus.Request) *bus.Reply { return ok(`{"ok":1}`) })
	s := newServer(t, edge.Options{Conn: nc})
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, _ := w.CreateFormFile("file", "hello.avap")
	_, _ = fw.Write([]byte("addVar(x, 1)\naddResult(x)\n"))
	_ = w.WriteField("zeta", "26")
	_ = w.WriteField("alpha", "1")
	_ = w.Close()
	resp, m := post(t, s, "/api/v1/execute/file?q=v", w.FormDataContentType(), body.String())
	if resp.StatusCode != 200 || m["success"] != true {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	r := f.reqs[0]
	if r.Script != "addVar(x, 1)\naddResult(x)\n" || r.Name != "hello.avap" || len(r.Form) != 2 || r.Form[0].Name != "alpha" || len(r.Query) != 1 {
		t.Errorf("request %+v", r)
	}
	resp, _ = post(t, s, "/api/v1/execute/file", "application/json", `{}`)
	if resp.StatusCode != 415 {
		t.Errorf("json to file: %d", resp.StatusCode)
	}
}

func TestCompileRoute(t *testing.T) {
	nc := meshConn(t)
	startFake(t, nc, "", func(_ int64, req *bus.Request) *bus.Reply {
		if req.Name == "bad" {
			return &bus.Reply{Code: bus.CodeSyntax, Status: 400, Error: "x", Line: 1, Col: 2}
		}
		return ok(`{"name":"` + req.Name + `"}`)
	})
	s := newServer(t, edge.Options{Conn: nc})
	resp, m := post(t, s, "/api/v1/compile", "application/json", `{"name":"hello","script":"addVar(a,1)"}`)
	if resp.StatusCode != 200 || m["success"] != true {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
	resp, m = post(t, s, "/api/v1/compile", "application/json", `{"name":"bad","script":"addVar(a,1"}`)
	if resp.StatusCode != 400 || m["code"] != "AVAP_SYNTAX" {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
	resp, _ = post(t, s, "/api/v1/compile", "application/json", `{"name":"x"}`)
	if resp.StatusCode != 400 {
		t.Errorf("no script: %d", resp.StatusCode)
	}
}

// TestOpenAPIMatchesRoutes: every registered route is documented and every
// documented operation is registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newServer(t, edge.Options{})
	resp, doc := get(t, s, "/api/v1/openapi.json")
	if resp.StatusCode != 200 || doc["openapi"] == nil {
		t.Fatalf("%d %v", resp.StatusCode, doc)
	}
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue
		}
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+strings.TrimSuffix(strings.TrimPrefix(seg, ":"), "?")+"}", 1)
			}
			if seg == "*" { // the rest of the path (deployed projects)
				p = strings.TrimSuffix(p, "*") + "{path}"
			}
		}
		registered[r.Method+" "+p] = true
	}
	for k := range registered {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("openapi.json documents %s, which is not registered", k)
		}
	}
}
