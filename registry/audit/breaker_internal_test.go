package audit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
)

// downStore fails every call while down is set.
type downStore struct {
	down   atomic.Bool
	writes atomic.Int32
}

func (d *downStore) Write(context.Context, []bus.AuditEvent) error {
	d.writes.Add(1)
	if d.down.Load() {
		return errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return nil
}
func (d *downStore) Query(context.Context, bus.AuditQuery) ([]bus.AuditEvent, error) { return nil, nil }
func (d *downStore) Prune(context.Context, time.Time) (int64, error)                 { return 0, nil }

// TestGuardedStoreTransitions: N failed writes open the breaker; while
// open, writes fail at once without reaching the database; after the open
// period a successful probe closes it.
func TestGuardedStoreTransitions(t *testing.T) {
	g := breaker.NewGroup(breaker.Options{})
	ds := &downStore{}
	ds.down.Store(true)
	st := guard(ds, newBreaker(Options{DB: nil, Breakers: g}))
	if st != store(ds) {
		t.Fatal("a file store (no DB) must not be guarded")
	}
	b := g.GetWith(BreakerName, breaker.Options{Failures: 3, OpenFor: 200 * time.Millisecond})
	st = guard(ds, b)
	ctx := context.Background()
	for range 3 {
		if err := st.Write(ctx, nil); err == nil || breaker.IsOpen(err) {
			t.Fatalf("write while closed = %v", err)
		}
	}
	if b.State() != breaker.StateOpen {
		t.Fatalf("state %s after 3 failures", b.State())
	}
	if err := st.Write(ctx, nil); !breaker.IsOpen(err) {
		t.Fatalf("write while open = %v", err)
	}
	if ds.writes.Load() != 3 {
		t.Fatalf("an open breaker let a write through (%d)", ds.writes.Load())
	}
	ds.down.Store(false)
	time.Sleep(250 * time.Millisecond)
	if b.State() != breaker.StateHalfOpen {
		t.Fatalf("state %s after the open period", b.State())
	}
	if err := st.Write(ctx, nil); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s := g.Stats()[0]; s.State != breaker.StateClosed || s.Opened != 1 || s.Rejected != 1 {
		t.Fatalf("stats %+v", s)
	}
}
