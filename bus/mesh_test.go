package bus_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMembersExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := bus.NewMembers(clk.Now)
	m.Observe(bus.Heartbeat{ID: "e1", Role: "executor", IntervalMS: 1000})
	m.Observe(bus.Heartbeat{ID: "a1", Role: "edge", IntervalMS: 5000})
	m.ObserveJSON([]byte(`{"id":"bad.id","role":"executor"}`)) // invalid token: ignored
	m.ObserveJSON([]byte(`not json`))
	m.ObserveJSON([]byte(`{"id":"x","role":"executor","version":"` + strings.Repeat("v", 5000) + `"}`))
	if l := m.List(); len(l) != 2 || l[0].ID != "a1" || l[1].ID != "e1" {
		t.Fatalf("list %+v", l)
	}
	clk.Add(2 * time.Second)
	if l := m.List(); len(l) != 2 || l[1].AgeMS != 2000 {
		t.Fatalf("after 2s %+v", l)
	}
	clk.Add(2 * time.Second) // e1 silent 4s > 3 intervals of 1s
	if l := m.List(); len(l) != 1 || l[0].ID != "a1" {
		t.Fatalf("after 4s %+v", l)
	}
	m.Observe(bus.Heartbeat{ID: "e1", Role: "executor", IntervalMS: 1000}) // comes back
	m.Observe(bus.Heartbeat{ID: "a1", Role: "edge", Leaving: true})        // leaves at once
	if l := m.List(); len(l) != 1 || l[0].ID != "e1" {
		t.Fatalf("after leave %+v", l)
	}
}

func TestHeartbeatDiscovery(t *testing.T) {
	s := natstest.RunInProcess(t)
	conn := func() *nats.Conn {
		nc, err := nats.Connect("", nats.InProcessServer(s))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	ctx := context.Background()
	var hbs []*bus.Heartbeater
	for i, role := range []string{"executor", "executor", "edge", "registry"} {
		h, err := bus.StartHeartbeat(bus.HeartbeatOptions{
			Conn: conn(), Interval: 50 * time.Millisecond,
			Self: bus.Heartbeat{ID: role + string(rune('a'+i)), Role: role, Version: "1.2.3", Zone: "eu1"},
			Load: func() (float64, int64, int64) { return 0.5, 2, int64(i) },
		})
		if err != nil {
			t.Fatal(err)
		}
		hbs = append(hbs, h)
	}
	if _, err := bus.StartHeartbeat(bus.HeartbeatOptions{Conn: conn(), Self: bus.Heartbeat{ID: "a.b", Role: "edge"}}); err == nil {
		t.Fatal("invalid id accepted")
	}
	// A fresh tracker sees every node at once through the ping.
	m, err := bus.WatchMembers(ctx, conn(), bus.MembersOptions{SyncWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	l := m.List()
	if len(l) != 4 || l[0].Role != "edge" || l[1].ID != "executora" || l[3].Role != "registry" {
		t.Fatalf("members %+v", l)
	}
	if l[1].Version != "1.2.3" || l[1].Zone != "eu1" || l[1].Load != 0.5 || l[1].InFlight != 2 || l[2].Queued != 1 {
		t.Fatalf("member fields %+v", l[1])
	}
	// A stopping node leaves the list without waiting for the expiry.
	hbs[0].Stop()
	hbs[0].Stop() // idempotent
	deadline := time.Now().Add(2 * time.Second)
	for len(m.List()) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("members after stop %+v", m.List())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, h := range hbs[1:] {
		h.Stop()
	}
	got, err := bus.PingMesh(ctx, conn(), 100*time.Millisecond)
	if err != nil || len(got) != 0 {
		t.Fatalf("ping after every node stopped: %v %+v", err, got)
	}
}

func TestZoneSubjectAndReplicas(t *testing.T) {
	s, err := bus.ZoneExecSubject("eu-1", bus.LaneBatch)
	if err != nil || s != "avap.exec.v1.zone.eu-1.batch" {
		t.Fatal(s, err)
	}
	for _, z := range []string{"", "a.b", "*", "x y"} {
		if _, err := bus.ZoneExecSubject(z, bus.LaneInteractive); err == nil {
			t.Errorf("zone %q accepted", z)
		}
	}
	if _, err := bus.ZoneExecSubject("eu", "bogus"); err == nil {
		t.Error("bad lane accepted")
	}
	if s, _ := bus.HeartbeatSubject("edge", "n1"); s != "avap.mesh.v1.hb.edge.n1" {
		t.Error(s)
	}
	if bus.Replicas(nil) != 1 {
		t.Error("nil conn")
	}
	nc, err := nats.Connect("", nats.InProcessServer(natstest.RunInProcess(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if bus.Replicas(nc) != 1 {
		t.Error("single server: want R1")
	}
}
