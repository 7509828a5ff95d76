package bus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

func jsConn(t *testing.T) *nats.Conn {
	t.Helper()
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openLocks(t *testing.T, nc *nats.Conn, owner string) *bus.Locks {
	t.Helper()
	l, err := bus.OpenLocks(context.Background(), nc, owner, true)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLockMutualExclusion: many contenders, each with its own Locks, loop
// acquire / critical section / release; never two inside at once.
func TestLockMutualExclusion(t *testing.T) {
	nc := jsConn(t)
	var inside, maxInside, entries atomic.Int32
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 8 {
		ls := openLocks(t, nc, "worker")
		wg.Go(func() {
			for range 5 {
				err := ls.Do(ctx, "migrate-test", 5*time.Second, func(context.Context) error {
					n := inside.Add(1)
					if n > maxInside.Load() {
						maxInside.Store(n)
					}
					entries.Add(1)
					time.Sleep(time.Millisecond)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 || entries.Load() != 40 {
		t.Fatalf("max inside %d, entries %d", maxInside.Load(), entries.Load())
	}
}

// TestLockExpiryAfterHolderDeath: a holder that never refreshes nor
// releases loses the lock after its TTL; the stale holder's refresh and
// release then fail with ErrLockLost.
func TestLockExpiryAfterHolderDeath(t *testing.T) {
	nc := jsConn(t)
	a, b := openLocks(t, nc, "a"), openLocks(t, nc, "b")
	ctx := context.Background()
	la, err := a.TryAcquire(ctx, "redrive-x", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryAcquire(ctx, "redrive-x", time.Second); !errors.Is(err, bus.ErrLockHeld) {
		t.Fatalf("second acquire: %v, want ErrLockHeld", err)
	}
	if err := la.Refresh(ctx); err != nil { // a live holder keeps it
		t.Fatal(err)
	}
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lb, err := b.Acquire(actx, "redrive-x", time.Second) // a "dies" now
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("took over after %v, before the TTL", waited)
	}
	if err := la.Refresh(ctx); !errors.Is(err, bus.ErrLockLost) {
		t.Fatalf("stale refresh: %v", err)
	}
	if err := la.Release(ctx); !errors.Is(err, bus.ErrLockLost) {
		t.Fatalf("stale release: %v", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.TryAcquire(ctx, "redrive-x", time.Second); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if _, err := a.TryAcquire(ctx, "bad name!", time.Second); !errors.Is(err, bus.ErrInvalidKey) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestIdempotencyStore(t *testing.T) {
	nc := jsConn(t)
	s, err := bus.OpenIdempotency(context.Background(), nc, time.Minute, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k := bus.IdempotencyKeyHash("/api/v1/execute", "key-1")
	rec, rev, began, err := s.Begin(ctx, k, "fp1", time.Minute)
	if err != nil || !began || rec != nil {
		t.Fatalf("begin: %v %v %v", rec, began, err)
	}
	// A concurrent request sees the pending claim.
	if rec, _, began, _ := s.Begin(ctx, k, "fp1", time.Minute); began || rec == nil || !rec.Pending {
		t.Fatalf("second begin: %+v %v", rec, began)
	}
	if err := s.Complete(ctx, k, rev, &bus.IdempotencyRecord{Fingerprint: "fp1", Status: 200, Body: []byte(`{"ok":true}`)}); err != nil {
		t.Fatal(err)
	}
	rec, _, began, err = s.Begin(ctx, k, "fp2", time.Minute)
	if err != nil || began || rec.Pending || rec.Fingerprint != "fp1" || string(rec.Body) != `{"ok":true}` {
		t.Fatalf("replay: %+v %v %v", rec, began, err)
	}
	// Abandon frees the key.
	k2 := bus.IdempotencyKeyHash("/api/v1/jobs", "key-1")
	_, rev2, _, _ := s.Begin(ctx, k2, "fp", time.Minute)
	if err := s.Abandon(ctx, k2, rev2); err != nil {
		t.Fatal(err)
	}
	if _, _, began, _ := s.Begin(ctx, k2, "fp", time.Minute); !began {
		t.Fatal("key not free after Abandon")
	}
	for _, bad := range []string{"", string(make([]byte, 300)), "a\nb"} {
		if bus.ValidIdempotencyKey(bad) == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestJobSubmitDedup(t *testing.T) {
	nc := jsConn(t)
	j, err := bus.OpenJobs(context.Background(), nc, bus.JobsConfig{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	id := bus.JobIDForKey(bus.IdempotencyKeyHash("/api/v1/jobs", "k"))
	sub := bus.JobSubmission{ID: id, Priority: bus.PriorityLow, Request: []byte{0x90}}
	r1, created, err := j.Submit(context.Background(), sub)
	if err != nil || !created || r1.Seq == 0 {
		t.Fatalf("submit: %+v %v %v", r1, created, err)
	}
	r2, created, err := j.Submit(context.Background(), sub)
	if err != nil || created || r2.ID != id {
		t.Fatalf("resubmit: %+v %v %v", r2, created, err)
	}
	pos, _, err := j.QueueInfo(context.Background(), r1)
	if err != nil || pos != 1 {
		t.Fatalf("queue position %d, %v", pos, err)
	}
	if _, err := j.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Submit(context.Background(), bus.JobSubmission{ID: "bad id", Request: []byte{0x90}}); !errors.Is(err, bus.ErrInvalidJobID) {
		t.Fatalf("bad id: %v", err)
	}
}
