package edge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

func send(t *testing.T, s *edge.Server, method, path, key, body string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestIdempotentExecute: the same key twice runs once and answers the
// same bytes; the same key with another body answers 422.
func TestIdempotentExecute(t *testing.T) {
	nc := meshConn(t)
	f := startFake(t, nc, bus.LaneInteractive, func(n int64, _ *bus.Request) *bus.Reply {
		return ok(`{"n":` + string(rune('0'+n)) + `}`)
	})
	s := newServer(t, edge.Options{Conn: nc, Jobs: edge.JobsOptions{Memory: true}})
	body := `{"script":"addResult(n)"}`
	r1, b1 := send(t, s, "POST", "/api/v1/execute", "k-1", body)
	r2, b2 := send(t, s, "POST", "/api/v1/execute", "k-1", body)
	if r1.StatusCode != 200 || r2.StatusCode != 200 || string(b1) != string(b2) {
		t.Fatalf("responses differ: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("%d executions, want 1", f.calls.Load())
	}
	if r2.Header.Get("Idempotent-Replayed") != "true" || r1.Header.Get("Content-Encoding") != "" {
		t.Fatalf("headers: %v / %v", r1.Header, r2.Header)
	}
	r3, b3 := send(t, s, "POST", "/api/v1/execute", "k-1", `{"script":"addResult(m)"}`)
	if r3.StatusCode != 422 || !strings.Contains(string(b3), "AVAP_IDEMPOTENCY_MISMATCH") {
		t.Fatalf("reused key: %d %s", r3.StatusCode, b3)
	}
	// Without a key, or with another key, it runs again.
	send(t, s, "POST", "/api/v1/execute", "", body)
	send(t, s, "POST", "/api/v1/execute", "k-2", body)
	if f.calls.Load() != 3 {
		t.Fatalf("%d executions, want 3", f.calls.Load())
	}
	if r, _ := send(t, s, "POST", "/api/v1/execute", strings.Repeat("x", 300), body); r.StatusCode != 400 {
		t.Fatalf("long key: %d", r.StatusCode)
	}
}

// TestIdempotentNotStoredWhenNotRun: a 503 (no executor) is not stored,
// so the retry with the same key runs.
func TestIdempotentNotStoredWhenNotRun(t *testing.T) {
	nc := meshConn(t)
	s := newServer(t, edge.Options{Conn: nc, Jobs: edge.JobsOptions{Memory: true}, Execute: edge.ExecuteOptions{RetryDelay: time.Millisecond}})
	body := `{"script":"addResult(n)"}`
	if r, _ := send(t, s, "POST", "/api/v1/execute", "k", body); r.StatusCode != 503 {
		t.Fatalf("no executor: %d", r.StatusCode)
	}
	f := startFake(t, nc, bus.LaneInteractive, func(int64, *bus.Request) *bus.Reply { return ok(`{}`) })
	if r, _ := send(t, s, "POST", "/api/v1/execute", "k", body); r.StatusCode != 200 || f.calls.Load() != 1 {
		t.Fatalf("retry: %d, calls %d", r.StatusCode, f.calls.Load())
	}
}

func TestJobsAPI(t *testing.T) {
	nc := meshConn(t)
	aud := &edgeAudit{}
	s := newServer(t, edge.Options{Conn: nc, Jobs: edge.JobsOptions{Memory: true, Audit: aud, Store: bus.JobsConfig{Memory: true}}})

	for _, bad := range []string{
		`{"script":"x","priority":"urgent"}`,
		`{"script":"x","callback_url":"ftp://x/y"}`,
		`{"script":"x","callback_url":"http://user:pw@x/y"}`,
		`{"priority":"high"}`,
		`not json`,
	} {
		if r, b := send(t, s, "POST", "/api/v1/jobs", "", bad); r.StatusCode != 400 {
			t.Errorf("%s: %d %s", bad, r.StatusCode, b)
		}
	}
	r, b := send(t, s, "POST", "/api/v1/jobs", "job-key", `{"script":"addVar(x,1)","priority":"low","callback_url":"https://example.com/hook"}`)
	if r.StatusCode != 202 {
		t.Fatalf("submit: %d %s", r.StatusCode, b)
	}
	var sub struct{ ID, State, Location string }
	_ = json.Unmarshal(b, &sub)
	if sub.State != "queued" || r.Header.Get("Location") != "/api/v1/jobs/"+sub.ID {
		t.Fatalf("submit answer %s, Location %q", b, r.Header.Get("Location"))
	}
	// Idempotent resubmission: same job.
	_, b2 := send(t, s, "POST", "/api/v1/jobs", "job-key", `{"script":"addVar(x,1)","priority":"low","callback_url":"https://example.com/hook"}`)
	if string(b2) != string(b) {
		t.Fatalf("replay %s != %s", b2, b)
	}
	r, b = send(t, s, "GET", "/api/v1/jobs/"+sub.ID, "", "")
	var job map[string]any
	_ = json.Unmarshal(b, &job)
	q, _ := job["queue"].(map[string]any)
	if r.StatusCode != 200 || job["state"] != "queued" || job["priority"] != "low" || q == nil || q["position"] != float64(1) {
		t.Fatalf("get: %d %s", r.StatusCode, b)
	}
	if r, _ := send(t, s, "GET", "/api/v1/jobs/nope", "", ""); r.StatusCode != 404 {
		t.Fatalf("unknown job: %d", r.StatusCode)
	}
	if r, _ := send(t, s, "GET", "/api/v1/jobs/bad.id", "", ""); r.StatusCode != 400 {
		t.Fatalf("bad id: %d", r.StatusCode)
	}
	r, b = send(t, s, "DELETE", "/api/v1/jobs/"+sub.ID, "", "")
	if r.StatusCode != 200 || !strings.Contains(string(b), `"state":"canceled"`) {
		t.Fatalf("cancel: %d %s", r.StatusCode, b)
	}
	if r, _ := send(t, s, "DELETE", "/api/v1/jobs/"+sub.ID, "", ""); r.StatusCode != 409 {
		t.Fatalf("second cancel: %d", r.StatusCode)
	}

	// DLQ: list, redrive (under a lock), delete.
	jobs, err := bus.OpenJobs(context.Background(), nc, bus.JobsConfig{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	req := bus.Request{Script: "addVar(x,1)"}
	rec, _, err := jobs.Submit(context.Background(), bus.JobSubmission{Request: req.AppendMsgpack(nil), Priority: bus.PriorityHigh})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.DeadLetterJob(context.Background(), &bus.DeadLetter{ID: rec.ID, Priority: bus.PriorityHigh, Reason: "test", Attempts: 3, DeadAt: time.Now(), Request: req.AppendMsgpack(nil)}); err != nil {
		t.Fatal(err)
	}
	r, b = send(t, s, "GET", "/api/v1/dlq?limit=10", "", "")
	if r.StatusCode != 200 || !strings.Contains(string(b), rec.ID) || strings.Contains(string(b), `"request"`) {
		t.Fatalf("dlq list: %d %s", r.StatusCode, b)
	}
	if r, _ := send(t, s, "GET", "/api/v1/dlq?limit=abc", "", ""); r.StatusCode != 400 {
		t.Fatalf("bad limit: %d", r.StatusCode)
	}
	r, b = send(t, s, "POST", "/api/v1/dlq/"+rec.ID+"/redrive", "", "")
	if r.StatusCode != 202 || !strings.Contains(string(b), `"redriven"`) {
		t.Fatalf("redrive: %d %s", r.StatusCode, b)
	}
	if r, _ := send(t, s, "POST", "/api/v1/dlq/"+rec.ID+"/redrive", "", ""); r.StatusCode != 404 {
		t.Fatalf("second redrive: %d", r.StatusCode)
	}
	_ = jobs.DeadLetterJob(context.Background(), &bus.DeadLetter{ID: rec.ID, Reason: "again", DeadAt: time.Now()})
	if r, _ := send(t, s, "DELETE", "/api/v1/dlq/"+rec.ID, "", ""); r.StatusCode != 204 {
		t.Fatalf("dlq delete: %d", r.StatusCode)
	}
	if r, _ := send(t, s, "DELETE", "/api/v1/dlq/"+rec.ID, "", ""); r.StatusCode != 404 {
		t.Fatalf("dlq delete again: %d", r.StatusCode)
	}
	if n := aud.count(); n < 4 {
		t.Fatalf("%d admin audit events, want >= 4", n)
	}

	// Audit queries need a sink.
	if r, _ := send(t, s, "GET", "/api/v1/audit?outcome=maybe", "", ""); r.StatusCode != 400 {
		t.Fatalf("bad outcome: %d", r.StatusCode)
	}
	if r, _ := send(t, s, "GET", "/api/v1/audit?from=yesterday", "", ""); r.StatusCode != 400 {
		t.Fatalf("bad from: %d", r.StatusCode)
	}
	if r, _ := send(t, s, "GET", "/api/v1/audit", "", ""); r.StatusCode != 503 {
		t.Fatalf("no sink: %d", r.StatusCode)
	}
}

type edgeAudit struct{ n chan struct{} }

func (a *edgeAudit) Emit(bus.AuditEvent) bool {
	if a.n == nil {
		a.n = make(chan struct{}, 100)
	}
	a.n <- struct{}{}
	return true
}

func (a *edgeAudit) count() int { return len(a.n) }
