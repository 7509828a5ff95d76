package edge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/nats/natstest"
)

// TestSessionAffinity: two executors and an edge on one server. A session
// sticks to one executor, moves to the other when that one stops and then
// sticks there; requests without a session still spread.
func TestSessionAffinity(t *testing.T) {
	srv := natstest.Run(t)
	connect := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	execs := map[string]*executor.Executor{}
	for range 2 {
		ex, err := executor.New(executor.Options{Conn: connect(), Workers: 2, GracePeriod: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ex.Shutdown(context.Background()) })
		execs[ex.ID()] = ex
	}
	s := newServer(t, edge.Options{Conn: connect()})
	run := func(session string) (int, string, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/execute", strings.NewReader(`{"script":"addVar(x, 1)\naddResult(x)"}`))
		req.Header.Set("Content-Type", "application/json")
		if session != "" {
			req.Header.Set(edge.HeaderSession, session)
		}
		resp, body := do(t, s, req)
		if resp.StatusCode == 200 && session != "" && resp.Header.Get(edge.HeaderSession) != session {
			t.Errorf("session echo %q, want %q", resp.Header.Get(edge.HeaderSession), session)
		}
		return resp.StatusCode, resp.Header.Get(edge.HeaderExecutor), body
	}

	// Without a session requests spread over both executors.
	seen := map[string]int{}
	for range 20 {
		code, id, body := run("")
		if code != 200 || execs[id] == nil {
			t.Fatalf("no session: %d executor %q %v", code, id, body)
		}
		seen[id]++
	}
	if len(seen) != 2 {
		t.Errorf("without a session all requests went to %v", seen)
	}

	// With a session they all land on one executor.
	const session = "user-42.chat_1"
	first := ""
	for i := range 20 {
		code, id, body := run(session)
		if code != 200 {
			t.Fatalf("request %d: %d %v", i, code, body)
		}
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("request %d answered by %s, session was on %s", i, id, first)
		}
	}

	// Its executor stops: the session moves to the other one and stays.
	if err := execs[first].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := ""
	for i := range 10 {
		code, id, body := run(session)
		if code != 200 {
			t.Fatalf("after shutdown, request %d: %d %v", i, code, body)
		}
		if id == first || execs[id] == nil {
			t.Fatalf("after shutdown answered by %q", id)
		}
		if second == "" {
			second = id
		}
		if id != second {
			t.Fatalf("after shutdown request %d answered by %s, then %s", i, second, id)
		}
	}

	// Invalid session ids are refused before anything runs.
	for _, bad := range []string{"has space", "a/b", strings.Repeat("x", 129), "é"} {
		code, _, body := run(bad)
		if code != 400 || body["code"] != string(bus.CodeBadRequest) {
			t.Errorf("session %q: %d %v", bad, code, body)
		}
	}
	if code, _, _ := run(strings.Repeat("x", 128)); code != 200 {
		t.Errorf("128-character session: %d", code)
	}
}

func TestExecNodeSubject(t *testing.T) {
	got, err := bus.ExecNodeSubject("ABC123", bus.LaneBatch)
	if err != nil || got != "avap.exec.v1.node.ABC123.batch" {
		t.Errorf("%q %v", got, err)
	}
	for _, id := range []string{"", "a.b", "*", "a b"} {
		if _, err := bus.ExecNodeSubject(id, bus.LaneInteractive); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
	if _, err := bus.ExecNodeSubject("x", "nope"); err == nil {
		t.Error("bad lane accepted")
	}
}
