package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/registry/audit"
	"github.com/avapmesh/avap/registry/postgres"
)

// BenchmarkSinkPostgres measures audit events/s from Emit to committed
// PostgreSQL rows (batches of 500).
func BenchmarkSinkPostgres(b *testing.B) {
	dsn, schema := pgSchemaB(b)
	db, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	nc := natsConnB(b)
	em := bus.NewAuditEmitter(nc, bus.AuditEmitterOptions{Buffer: 1 << 16, Stream: bus.AuditStreamConfig{Memory: true}})
	if err := em.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer em.Shutdown(context.Background())
	s, err := audit.New(audit.Options{Conn: nc, DB: db, FlushInterval: 50 * time.Millisecond, Stream: bus.AuditStreamConfig{Memory: true}})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		if em.Emit(bus.AuditEvent{Kind: bus.AuditSync, RequestID: "r", Outcome: bus.OutcomeSuccess, Status: 200, Steps: 4,
			ScriptHash: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Limits: &bus.AuditLimits{MaxSteps: 1e7}}) {
			sent++
		} else {
			time.Sleep(time.Millisecond) // buffer full: let the publisher drain
		}
	}
	for s.Stats().Written < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
