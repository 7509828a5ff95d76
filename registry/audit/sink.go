// Package audit is the audit sink: it drains the audit stream
// (bus.AuditStream, filled by executors and edges through
// bus.AuditEmitter) into PostgreSQL in batched transactions — or, on a node
// without PostgreSQL, into rotating JSON-lines files — answers audit
// queries over NATS (bus.AuditQuerySubject, GET /api/v1/audit), and
// enforces the retention period with a scheduled prune that one sink of
// the cluster runs at a time (distributed lock).
//
// Events are acknowledged only after the transaction that stores them
// commits. While the database is down the sink backs off and the events
// wait in the stream; when it returns they are all written. An event
// delivered twice is stored once (its id is the primary key).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/registry/postgres"
)

// Defaults of Options.
const (
	DefaultBatchSize         = 500
	DefaultFlushInterval     = time.Second
	DefaultRetention         = 90 * 24 * time.Hour
	DefaultRetentionInterval = time.Hour
	maxWriteBackoff          = 30 * time.Second
)

// Options configure a Sink. Exactly one of DB and Dir is used: DB when
// set, else the JSON-lines files under Dir.
type Options struct {
	Conn *nats.Conn   // required
	DB   *postgres.DB // PostgreSQL store; or nil
	Dir  string       // file store directory when DB is nil

	FileMaxBytes      int64         // rotate files past this size; 0 = 64 MiB
	BatchSize         int           // events per transaction; 0 = DefaultBatchSize
	FlushInterval     time.Duration // longest wait to fill a batch; 0 = default
	Retention         time.Duration // events older than this are deleted; 0 = default, <0 = keep forever
	RetentionInterval time.Duration // how often the prune runs; 0 = default
	Stream            bus.AuditStreamConfig
	Locks             postgres.Locker // serializes migrations and prunes across sinks; or nil
	Version           string          // micro service version; "" = 0.1.0
	Logger            *slog.Logger    // or nil

	// Breakers, when set, guards the PostgreSQL store with the breaker
	// BreakerName configured by Breaker (zero fields: breaker defaults);
	// see breaker.go.
	Breakers *breaker.Group
	Breaker  breaker.Options
}

// store is where events end up.
type store interface {
	Write(ctx context.Context, evs []bus.AuditEvent) error
	Query(ctx context.Context, q bus.AuditQuery) ([]bus.AuditEvent, error)
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// Sink drains the audit stream into its store.
type Sink struct {
	opts  Options
	log   *slog.Logger
	store store
	file  *fileStore
	brk   *breaker.Breaker // PostgreSQL circuit breaker; or nil

	migrated atomic.Bool
	svc      micro.Service

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{}

	started, stopped atomic.Bool

	written, batches, writeErrors, pruned atomic.Int64
	lastErr                               atomic.Pointer[string]
}

// New validates opts and allocates a sink; Start runs it.
func New(opts Options) (*Sink, error) {
	if opts.Conn == nil {
		return nil, errors.New("audit: Options.Conn is required")
	}
	if opts.DB == nil && opts.Dir == "" {
		return nil, errors.New("audit: need a database or a directory")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = DefaultRetentionInterval
	}
	if opts.Version == "" {
		opts.Version = "0.1.0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sink{opts: opts, log: opts.Logger, ready: make(chan struct{})}
	if opts.DB != nil {
		s.brk = newBreaker(opts)
		s.store = guard(&pgStore{db: opts.DB}, s.brk) // breaker.go
	} else {
		fs, err := newFileStore(opts.Dir, opts.FileMaxBytes)
		if err != nil {
			return nil, err
		}
		s.store, s.file = fs, fs
		s.migrated.Store(true)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Ready is closed once Start has succeeded.
func (s *Sink) Ready() <-chan struct{} { return s.ready }

// Start ensures the stream, registers the query service and starts the
// drain and retention loops. It does not wait for PostgreSQL.
func (s *Sink) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("audit: already started")
	}
	js, err := jetstream.New(s.opts.Conn)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	stream, err := bus.EnsureAuditStream(ctx, js, s.opts.Stream)
	if err != nil {
		return err
	}
	cons, err := stream.Consumer(ctx, bus.AuditConsumer)
	if err != nil {
		return fmt.Errorf("audit: consumer: %w", err)
	}
	s.svc, err = micro.AddService(s.opts.Conn, micro.Config{
		Name: bus.AuditService, Version: s.opts.Version, Description: "AVAP audit sink", QueueGroup: bus.AuditService,
	})
	if err != nil {
		return fmt.Errorf("audit: micro service: %w", err)
	}
	if err := s.svc.AddEndpoint("query", micro.HandlerFunc(s.handleQuery), micro.WithEndpointSubject(bus.AuditQuerySubject)); err != nil {
		_ = s.svc.Stop()
		return fmt.Errorf("audit: query endpoint: %w", err)
	}
	s.wg.Go(func() { s.drain(cons) })
	if s.opts.Retention > 0 {
		s.wg.Go(s.retention)
	}
	close(s.ready)
	kind := "postgres"
	if s.file != nil {
		kind = "file"
	}
	s.log.Info("audit sink started", "store", kind)
	return nil
}

// drain fetches batches and writes them; on a write failure it backs off
// without acknowledging (the events stay in the stream).
func (s *Sink) drain(cons jetstream.Consumer) {
	backoff := 250 * time.Millisecond
	evs := make([]bus.AuditEvent, 0, s.opts.BatchSize)
	msgs := make([]jetstream.Msg, 0, s.opts.BatchSize)
	for s.ctx.Err() == nil {
		if !s.migrated.Load() {
			if err := s.migrate(); err != nil {
				s.recordErr(err)
				sleep(s.ctx, backoff)
				backoff = min(2*backoff, maxWriteBackoff)
				continue
			}
		}
		// Messages are single events or batches of up to a few hundred
		// (bus.AuditEmitter), so a fetch takes few messages: one write then
		// holds at most a few thousand events, keeping memory flat.
		batch, err := cons.Fetch(max(1, s.opts.BatchSize/auditMessagesPerFetchDivisor), jetstream.FetchMaxWait(s.opts.FlushInterval))
		if err != nil {
			s.recordErr(err)
			sleep(s.ctx, backoff)
			continue
		}
		clear(evs) // drop the last write's strings
		evs, msgs = evs[:0], msgs[:0]
		for m := range batch.Messages() {
			before := len(evs)
			evs, err = bus.AppendAuditEvents(evs, m.Data()) // decoded in place: no slice per message
			if err != nil {
				_ = m.Term() // not an event: never retry it
				continue
			}
			kept := evs[:before] // events without an id are dropped
			for _, ev := range evs[before:] {
				if ev.ID != "" {
					kept = append(kept, ev)
				}
			}
			clear(evs[len(kept):])
			evs = kept
			if len(evs) == before {
				_ = m.Term()
				continue
			}
			msgs = append(msgs, m)
		}
		if len(evs) == 0 {
			continue
		}
		wctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		err = s.store.Write(wctx, evs)
		cancel()
		if err != nil {
			s.writeErrors.Add(1)
			s.recordErr(err)
			for _, m := range msgs {
				_ = m.NakWithDelay(backoff)
			}
			sleep(s.ctx, backoff)
			backoff = min(2*backoff, maxWriteBackoff)
			continue
		}
		backoff = 250 * time.Millisecond
		for _, m := range msgs {
			_ = m.Ack()
		}
		s.written.Add(int64(len(evs)))
		s.batches.Add(1)
	}
}

// auditMessagesPerFetchDivisor turns BatchSize (events) into messages per
// fetch: BatchSize/64 messages of up to 256 events each.
const auditMessagesPerFetchDivisor = 64

func (s *Sink) migrate() error {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	if err := s.brk.Do(func() error { return s.opts.DB.Migrate(ctx, Migrations(), "audit", s.opts.Locks) }); err != nil {
		return err
	}
	s.migrated.Store(true)
	return nil
}

func (s *Sink) recordErr(err error) {
	msg := err.Error()
	if p := s.lastErr.Swap(&msg); p == nil || *p != msg {
		s.log.Warn("audit sink cannot write; events wait in the stream", "err", err)
	}
}

// retention prunes old events every RetentionInterval; with Locks, one
// sink of the cluster does it at a time.
func (s *Sink) retention() {
	t := time.NewTicker(s.opts.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if n, err := s.Prune(s.ctx); err != nil {
				s.log.Warn("audit retention failed", "err", err)
			} else if n > 0 {
				s.log.Info("audit retention pruned", "deleted", n)
			}
		}
	}
}

// Prune deletes events older than the retention period now (under the
// "audit-retention" lock when Locks is set).
func (s *Sink) Prune(ctx context.Context) (int64, error) {
	if s.opts.Retention <= 0 || !s.migrated.Load() {
		return 0, nil
	}
	var n int64
	run := func(ctx context.Context) error {
		var err error
		n, err = s.store.Prune(ctx, time.Now().Add(-s.opts.Retention))
		return err
	}
	var err error
	if s.opts.Locks == nil {
		err = run(ctx)
	} else {
		err = s.opts.Locks.Do(ctx, "audit-retention", 5*time.Minute, run)
	}
	s.pruned.Add(n)
	return n, err
}

func (s *Sink) handleQuery(r micro.Request) {
	var q bus.AuditQuery
	var rep bus.AuditQueryReply
	if err := json.Unmarshal(r.Data(), &q); err != nil {
		rep.Error = "bad query: " + err.Error()
	} else if !s.migrated.Load() {
		rep.Error = "audit store not ready (database unavailable)"
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		evs, err := s.store.Query(ctx, q)
		cancel()
		if err != nil {
			rep.Error = err.Error()
		}
		rep.Events = evs
	}
	_ = r.RespondJSON(rep)
}

// Stats are the sink's counters.
type Stats struct {
	Written     int64  `json:"written"`
	Batches     int64  `json:"batches"`
	WriteErrors int64  `json:"write_errors"`
	Pruned      int64  `json:"pruned"`
	LastError   string `json:"last_error,omitempty"`
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	st := Stats{Written: s.written.Load(), Batches: s.batches.Load(), WriteErrors: s.writeErrors.Load(), Pruned: s.pruned.Load()}
	if p := s.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

// Check reports whether the sink can write (health checks).
func (s *Sink) Check(ctx context.Context) error {
	if s.opts.DB != nil {
		return s.opts.DB.Check(ctx)
	}
	return nil
}

// Shutdown stops the loops (a batch being written finishes) and the
// query service. Idempotent.
func (s *Sink) Shutdown(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if s.svc != nil {
		_ = s.svc.Stop()
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("audit: shutdown: %w", ctx.Err())
	}
	if s.file != nil {
		s.file.Close()
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
