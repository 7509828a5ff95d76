package audit

import (
	"context"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
)

// BreakerName is the name of the sink's PostgreSQL circuit breaker in
// Options.Breakers.
const BreakerName = "postgres:audit"

// Circuit breaker of the sink's PostgreSQL writes (issue 9): with
// Options.Breakers set, the migration, batch writes, queries and prunes
// of the PostgreSQL store go through one breaker. While it is open they
// fail at once with breaker.ErrOpen instead of each waiting for a
// connection timeout: the drain loop does not acknowledge, so the events
// keep waiting in the stream, and are written once a half-open probe
// succeeds. Its state shows in the group's Stats (health component
// "breakers", /api/v1/info). The file store is not guarded.

// newBreaker returns the sink's breaker, or nil (no guard: a nil
// *breaker.Breaker lets every call through).
func newBreaker(o Options) *breaker.Breaker {
	if o.Breakers == nil || o.DB == nil {
		return nil
	}
	return o.Breakers.GetWith(BreakerName, o.Breaker)
}

// guardedStore runs a store's calls through a breaker.
type guardedStore struct {
	store
	b *breaker.Breaker
}

func guard(s store, b *breaker.Breaker) store {
	if b == nil {
		return s
	}
	return guardedStore{store: s, b: b}
}

func (g guardedStore) Write(ctx context.Context, evs []bus.AuditEvent) error {
	return g.b.Do(func() error { return g.store.Write(ctx, evs) })
}

func (g guardedStore) Query(ctx context.Context, q bus.AuditQuery) ([]bus.AuditEvent, error) {
	return breaker.Call(g.b, func() ([]bus.AuditEvent, error) { return g.store.Query(ctx, q) })
}

func (g guardedStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	return breaker.Call(g.b, func() (int64, error) { return g.store.Prune(ctx, before) })
}
