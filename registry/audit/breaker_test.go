package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/registry/audit"
	"github.com/avapmesh/avap/registry/postgres"
)

// TestSinkBreakerUnreachableDB: with PostgreSQL unreachable the sink's
// breaker opens after a few failures, calls are then refused at once, and
// the events keep waiting in the stream (nothing written, nothing lost).
func TestSinkBreakerUnreachableDB(t *testing.T) {
	db, err := postgres.Open(context.Background(), postgres.Options{
		DSN: "postgres://avap@127.0.0.1:1/avap?sslmode=disable", ConnectTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nc := natsConn(t)
	em := emitter(t, nc)
	g := breaker.NewGroup(breaker.Options{})
	sink := startSink(t, audit.Options{
		Conn: nc, DB: db, BatchSize: 100, FlushInterval: 50 * time.Millisecond,
		Breakers: g, Breaker: breaker.Options{Failures: 2, OpenFor: time.Minute},
	})
	emitN(em, 20, bus.OutcomeSuccess)
	stats := func() breaker.Stats {
		for _, s := range g.Stats() {
			if s.Name == audit.BreakerName {
				return s
			}
		}
		return breaker.Stats{}
	}
	waitFor(t, "the breaker to open and refuse calls", 20*time.Second, func() bool {
		s := stats()
		return s.Opened >= 1 && s.Rejected >= 1
	})
	if s := stats(); s.Critical {
		t.Fatalf("audit breaker must not fail readiness: %+v", s)
	}
	if st := sink.Stats(); st.Written != 0 || st.LastError == "" {
		t.Fatalf("sink stats %+v", st)
	}
	waitFor(t, "events in the stream", 5*time.Second, func() bool { return em.Stats().Emitted == 20 })
	if em.Stats().Emitted != 20 {
		t.Fatalf("emitted %d", em.Stats().Emitted)
	}
}
