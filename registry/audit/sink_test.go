package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
	"github.com/avapmesh/avap/registry/audit"
	"github.com/avapmesh/avap/registry/postgres"
)

func natsConn(t *testing.T) *nats.Conn { return natsConnB(t) }

func natsConnB(t testing.TB) *nats.Conn {
	t.Helper()
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// pgSchema creates a throwaway schema on AVAP_TEST_POSTGRES_DSN (dropped
// at the end) and returns the DSN and schema; it skips without the DSN.
func pgSchema(t *testing.T) (string, string) { return pgSchemaB(t) }

func pgSchemaB(t testing.TB) (string, string) {
	t.Helper()
	dsn := os.Getenv("AVAP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("AVAP_TEST_POSTGRES_DSN not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	})
	return dsn, schema
}

// proxy forwards TCP to target; down() cuts every connection and refuses
// new ones, simulating a database outage.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	isDown bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.down() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.isDown {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isDown = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *proxy) up() {
	p.mu.Lock()
	p.isDown = false
	p.mu.Unlock()
}

func emitter(t *testing.T, nc *nats.Conn) *bus.AuditEmitter {
	t.Helper()
	em := bus.NewAuditEmitter(nc, bus.AuditEmitterOptions{NodeID: "n1", Stream: bus.AuditStreamConfig{Memory: true}})
	if err := em.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Shutdown(context.Background()) })
	return em
}

func startSink(t *testing.T, o audit.Options) *audit.Sink {
	t.Helper()
	o.Stream = bus.AuditStreamConfig{Memory: true}
	s, err := audit.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func emitN(em *bus.AuditEmitter, n int, outcome string) {
	for i := range n {
		em.Emit(bus.AuditEvent{Kind: bus.AuditSync, RequestID: "r" + string(rune('a'+i%26)), Outcome: outcome,
			Status: 200, Steps: int64(i), ClientID: "key-1", Limits: &bus.AuditLimits{MaxSteps: 100}})
	}
}

// TestSinkPostgresDownBuffering: events emitted while PostgreSQL is
// unreachable wait in the stream and are all written, in batches, once it
// is back; none is written twice.
func TestSinkPostgresDownBuffering(t *testing.T) {
	dsn, schema := pgSchema(t)
	u, _ := url.Parse(dsn)
	px := newProxy(t, u.Host)
	px.down()
	u.Host = px.ln.Addr().String()
	db, err := postgres.Open(context.Background(), postgres.Options{DSN: u.String(), Schema: schema, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nc := natsConn(t)
	em := emitter(t, nc)
	sink := startSink(t, audit.Options{Conn: nc, DB: db, BatchSize: 100, FlushInterval: 100 * time.Millisecond})

	emitN(em, 250, bus.OutcomeSuccess)
	emitN(em, 50, bus.OutcomeError)
	waitFor(t, "events in the stream", 5*time.Second, func() bool {
		return em.Stats().Emitted == 300 // acknowledged by JetStream (in batches)
	})
	time.Sleep(300 * time.Millisecond)
	if sink.Stats().Written != 0 {
		t.Fatal("wrote while the database was down")
	}
	px.up()
	direct, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	count := func() int {
		var n int
		if err := direct.Pool().QueryRow(context.Background(), "SELECT count(*) FROM audit_events").Scan(&n); err != nil {
			return -1
		}
		return n
	}
	waitFor(t, "300 rows", 40*time.Second, func() bool { return count() == 300 })
	if st := sink.Stats(); st.Batches > 10 || st.Written != 300 {
		t.Fatalf("stats %+v: want 300 written in a few batches", st)
	}

	// An outage during a flow of events: nothing lost, nothing doubled.
	px.down()
	emitN(em, 100, bus.OutcomeSuccess)
	time.Sleep(300 * time.Millisecond)
	px.up()
	waitFor(t, "400 rows", 40*time.Second, func() bool { return count() == 400 })

	// Query over NATS, as GET /api/v1/audit does.
	q, _ := json.Marshal(bus.AuditQuery{Outcome: bus.OutcomeError, ClientID: "key-1", Limit: 1000})
	msg, err := nc.Request(bus.AuditQuerySubject, q, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep bus.AuditQueryReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Error != "" || len(rep.Events) != 50 || rep.Events[0].Limits == nil {
		t.Fatalf("query: %d events, %q, %v", len(rep.Events), rep.Error, err)
	}

	// Retention deletes old rows.
	if _, err := direct.Pool().Exec(context.Background(), "UPDATE audit_events SET time = now() - interval '100 days' WHERE outcome = 'error'"); err != nil {
		t.Fatal(err)
	}
	if n, err := sink.Prune(context.Background()); err != nil || n != 50 {
		t.Fatalf("pruned %d, %v", n, err)
	}
}

func TestSinkFile(t *testing.T) {
	nc := natsConn(t)
	em := emitter(t, nc)
	dir := t.TempDir()
	sink := startSink(t, audit.Options{Conn: nc, Dir: dir, FileMaxBytes: 4096, BatchSize: 20, FlushInterval: 50 * time.Millisecond})
	emitN(em, 60, bus.OutcomeSuccess)
	em.Emit(bus.AuditEvent{Kind: bus.AuditAdmin, Action: "config.reload", Outcome: "ok"})
	waitFor(t, "61 events written", 10*time.Second, func() bool { return sink.Stats().Written == 61 })
	files, _ := os.ReadDir(dir)
	if len(files) < 2 {
		t.Fatalf("%d files: no rotation", len(files))
	}
	q, _ := json.Marshal(bus.AuditQuery{Kind: bus.AuditAdmin})
	msg, err := nc.Request(bus.AuditQuerySubject, q, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep bus.AuditQueryReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || len(rep.Events) != 1 || rep.Events[0].Action != "config.reload" {
		t.Fatalf("query: %+v %v", rep, err)
	}
}
