package edge_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

// zoneExecutor answers interactive requests on subj with its name in the
// result.
func zoneExecutor(t *testing.T, nc *nats.Conn, subj, name string) (*atomic.Int64, *nats.Subscription) {
	t.Helper()
	var n atomic.Int64
	sub, err := nc.QueueSubscribe(subj, bus.ExecutorQueue, func(m *nats.Msg) {
		n.Add(1)
		rep := bus.Reply{Success: true, Result: json.RawMessage(`{"by":"` + name + `"}`), Variables: json.RawMessage(`{}`)}
		_ = m.Respond(rep.AppendMsgpack(nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &n, sub
}

// TestLocalityFallback: an edge of zone eu1 sends to eu1's executors while
// there are some, and to the common subject when eu1 has none.
func TestLocalityFallback(t *testing.T) {
	nc := meshConn(t)
	common, _ := bus.ExecSubject(bus.LaneInteractive)
	eu1, _ := bus.ZoneExecSubject("eu1", bus.LaneInteractive)
	us1, _ := bus.ZoneExecSubject("us1", bus.LaneInteractive)
	nCommon, _ := zoneExecutor(t, nc, common, "any")
	nEU, subEU := zoneExecutor(t, nc, eu1, "eu1")
	nUS, _ := zoneExecutor(t, nc, us1, "us1")

	s := newServer(t, edge.Options{Conn: nc, Execute: edge.ExecuteOptions{Zone: "eu1"}})
	by := func() string {
		t.Helper()
		resp, body := post(t, s, "/api/v1/execute", "application/json", `{"script":"addResult(x)"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %v", resp.StatusCode, body)
		}
		return body["result"].(map[string]any)["by"].(string)
	}
	for range 5 {
		if got := by(); got != "eu1" {
			t.Fatalf("with eu1 executors answered by %s", got)
		}
	}
	if err := subEU.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	for range 5 {
		if got := by(); got != "any" {
			t.Fatalf("without eu1 executors answered by %s", got)
		}
	}
	if nEU.Load() != 5 || nCommon.Load() != 5 || nUS.Load() != 0 {
		t.Fatalf("eu1 %d, common %d, us1 %d", nEU.Load(), nCommon.Load(), nUS.Load())
	}

	// An edge without a zone uses the common subject only.
	plain := newServer(t, edge.Options{Conn: nc})
	resp, body := post(t, plain, "/api/v1/execute", "application/json", `{"script":"addResult(x)"}`)
	if resp.StatusCode != 200 || body["result"].(map[string]any)["by"] != "any" {
		t.Fatalf("no zone: %d %v", resp.StatusCode, body)
	}
}
