package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Audit trail names.
const (
	// AuditStream holds audit events until a sink has written them
	// (work-queue retention): while PostgreSQL is down they wait here.
	AuditStream = "AVAP_AUDIT"
	// AuditSubjectPrefix prefixes event subjects: "avap.audit.v1.event.<kind>".
	AuditSubjectPrefix = "avap.audit.v1.event"
	// AuditQuerySubject is the request subject of audit queries, served by
	// the audit sinks (micro service AuditService).
	AuditQuerySubject = "avap.audit.v1.query"
	// AuditService is the micro service name of the audit sinks.
	AuditService = "avap-audit"
	// AuditConsumer is the durable consumer the sinks share.
	AuditConsumer = "avap-audit-sink"
)

// Audit event kinds.
const (
	AuditSync  = "sync"  // POST /execute (and /execute/file)
	AuditBatch = "batch" // one item of /execute/batch
	AuditJob   = "job"   // final outcome of a job
	AuditAdmin = "admin" // administrative action
)

// AuditSubject returns "avap.audit.v1.event.<kind>".
func AuditSubject(kind string) (string, error) {
	switch kind {
	case AuditSync, AuditBatch, AuditJob, AuditAdmin:
		return AuditSubjectPrefix + "." + kind, nil
	}
	return "", fmt.Errorf("%w: audit kind %q", ErrInvalidToken, kind)
}

// AuditLimits are the effective limits of an audited run.
type AuditLimits struct {
	MaxSteps       int64 `json:"max_steps"`
	TimeoutMS      int64 `json:"timeout_ms"`
	MaxMemoryBytes int64 `json:"max_memory_bytes"`
	MaxCallDepth   int64 `json:"max_call_depth"`
	MaxOutputBytes int64 `json:"max_output_bytes"`
}

// AuditEvent is one audited execution or administrative action. ID is
// unique: it is the JetStream de-duplication id and the database primary
// key, so a re-sent event is stored once.
type AuditEvent struct {
	ID         string       `json:"id"`
	Time       time.Time    `json:"time"`
	Kind       string       `json:"kind"`
	RequestID  string       `json:"request_id,omitempty"`
	ClientID   string       `json:"client_id,omitempty"`   // API key id
	ScriptHash string       `json:"script_hash,omitempty"` // hex sha256 of an inline script
	Command    string       `json:"command,omitempty"`     // name@version of a stored script
	Limits     *AuditLimits `json:"limits,omitempty"`
	Outcome    string       `json:"outcome"` // success, error; admin: ok, error
	Code       Code         `json:"code,omitempty"`
	Status     int          `json:"status"`
	DurationUS int64        `json:"duration_us"`
	Steps      int64        `json:"steps"`
	ExecutorID string       `json:"executor_id,omitempty"`
	NodeID     string       `json:"node_id,omitempty"`
	JobID      string       `json:"job_id,omitempty"`
	Action     string       `json:"action,omitempty"` // admin: config.reload, dlq.redrive, dlq.delete, job.cancel...
	Target     string       `json:"target,omitempty"` // admin: what the action applied to
	Detail     string       `json:"detail,omitempty"`
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
)

// AuditStreamConfig sizes the audit stream.
type AuditStreamConfig struct {
	MaxAge   time.Duration // events older than this are dropped even if unwritten; 0 = 7 days
	MaxBytes int64         // bound on the backlog; 0 = 1 GiB
	Replicas int           // 0 = bus.Replicas (3 on a cluster of 3+ servers, else 1)
	Memory   bool          // memory storage (tests)
}

// EnsureAuditStream creates (or updates) the audit stream and the sinks'
// durable consumer.
func EnsureAuditStream(ctx context.Context, js jetstream.JetStream, cfg AuditStreamConfig) (jetstream.Stream, error) {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 30
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = Replicas(js.Conn()) // R3 on a cluster of 3+ servers
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        AuditStream,
		Description: "avap audit events waiting for the audit sink",
		Subjects:    []string{AuditSubjectPrefix + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: stream: %w", err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       AuditConsumer,
		Description:   "avap audit sinks",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 20_000,
	}); err != nil {
		return nil, fmt.Errorf("audit: consumer: %w", err)
	}
	return s, nil
}

// AuditQuery selects audit events. Zero fields do not filter.
type AuditQuery struct {
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	ClientID  string    `json:"client_id,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	JobID     string    `json:"job_id,omitempty"`
	Limit     int       `json:"limit,omitempty"` // 0 = 100; at most 1000
}

// AuditQueryReply answers an AuditQuery: events newest first.
type AuditQueryReply struct {
	Events []AuditEvent `json:"events"`
	Error  string       `json:"error,omitempty"`
}

// AuditEmitterOptions configure an AuditEmitter.
type AuditEmitterOptions struct {
	Buffer     int               // events queued in memory before Emit drops; 0 = 8192
	MaxPending int               // unacknowledged async batch publishes; 0 = 32
	NodeID     string            // stamped on events that carry none
	Stream     AuditStreamConfig // created at Start
	Logger     *slog.Logger      // or nil
}

// AuditEmitter publishes audit events to the audit stream without slowing
// its callers: Emit copies the event into a bounded channel and returns;
// one goroutine encodes and publishes asynchronously. When the channel is
// full (JetStream far behind) Emit drops the event and counts it.
type AuditEmitter struct {
	nc   *nats.Conn
	opts AuditEmitterOptions
	log  *slog.Logger
	ch   chan AuditEvent

	prefix string
	seq    atomic.Uint64

	emitted, dropped, failed atomic.Uint64

	startOnce sync.Once
	stopOnce  sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// NewAuditEmitter allocates an emitter; Start begins publishing.
func NewAuditEmitter(nc *nats.Conn, opts AuditEmitterOptions) *AuditEmitter {
	if opts.Buffer <= 0 {
		opts.Buffer = 8192
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 32
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &AuditEmitter{
		nc: nc, opts: opts, log: opts.Logger, ch: make(chan AuditEvent, opts.Buffer),
		prefix: hex.EncodeToString(b[:]) + "-", stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Emit queues ev for publishing; it never blocks. It fills ID, Time and
// NodeID when empty and reports false when the event was dropped.
func (a *AuditEmitter) Emit(ev AuditEvent) bool {
	if a == nil {
		return false
	}
	if ev.ID == "" {
		ev.ID = a.nextID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.NodeID == "" {
		ev.NodeID = a.opts.NodeID
	}
	select {
	case a.ch <- ev:
		return true
	default:
		a.dropped.Add(1)
		return false
	}
}

// nextID is a new event id: the emitter's random prefix and a sequence
// number (one allocation).
func (a *AuditEmitter) nextID() string {
	var buf [40]byte
	return string(strconv.AppendUint(append(buf[:0], a.prefix...), a.seq.Add(1), 36))
}

// AuditEmitterStats counts events.
type AuditEmitterStats struct {
	Emitted uint64 `json:"emitted"` // published and acknowledged by JetStream
	Dropped uint64 `json:"dropped"` // dropped because the buffer was full
	Failed  uint64 `json:"failed"`  // publishes JetStream did not acknowledge
	Queued  int    `json:"queued"`  // waiting in the buffer
}

// Stats returns the emitter's counters.
func (a *AuditEmitter) Stats() AuditEmitterStats {
	return AuditEmitterStats{Emitted: a.emitted.Load(), Dropped: a.dropped.Load(), Failed: a.failed.Load(), Queued: len(a.ch)}
}

// Start ensures the audit stream exists and starts the publisher.
func (a *AuditEmitter) Start(ctx context.Context) error {
	js, err := jetstream.New(a.nc, jetstream.WithPublishAsyncMaxPending(a.opts.MaxPending),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { a.emitted.Add(auditCount(m)) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			a.failed.Add(auditCount(m))
			a.log.Warn("audit events not stored", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("audit emitter: %w", err)
	}
	if _, err := EnsureAuditStream(ctx, js, a.opts.Stream); err != nil {
		return err
	}
	started := false
	a.startOnce.Do(func() {
		started = true
		go a.run(js)
	})
	if !started {
		return errors.New("audit emitter: already started")
	}
	return nil
}

// Shutdown publishes what is buffered (bounded by ctx) and stops.
func (a *AuditEmitter) Shutdown(ctx context.Context) error {
	a.stopOnce.Do(func() { close(a.stop) })
	started := true
	a.startOnce.Do(func() { started = false; close(a.done) })
	if !started {
		return nil
	}
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit emitter: %w", ctx.Err())
	}
}

// maxAuditBatch bounds how many events one audit message carries.
const maxAuditBatch = 256

// auditLinger is how long the publisher waits for more events before it
// sends a batch that is not full.
const auditLinger = 5 * time.Millisecond

// run publishes queued events in batches: each message carries a msgpack
// array of every event waiting in the buffer (up to maxAuditBatch), so
// under load one JetStream publish serves hundreds of executions instead
// of one. Batches carry no Nats-Msg-Id (the sink stores each event once by
// its ID), which keeps JetStream's duplicate window from growing with the
// request rate.
func (a *AuditEmitter) run(js jetstream.JetStream) {
	defer close(a.done)
	subj := AuditSubjectPrefix + "." + auditBatchKind
	batch := make([]AuditEvent, 0, maxAuditBatch)
	perEvent := 256 // encoded bytes per event in the last batch, plus a margin
	publish := func() {
		if len(batch) == 0 {
			return
		}
		// msgpack (audit_codec.go); the message owns data. Sized from the
		// last batch's bytes per event, so it is usually allocated once
		// rather than grown by doubling.
		data := appendAuditBatch(make([]byte, 0, perEvent*len(batch)+64), batch)
		perEvent = len(data)/len(batch) + 16
		n := uint64(len(batch))
		clear(batch)
		batch = batch[:0]
		msg := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{auditCountHeader: {strconv.FormatUint(n, 10)}}}
		if _, err := js.PublishMsgAsync(msg); err != nil {
			a.failed.Add(n)
			a.log.Warn("audit publish failed", "err", err)
		}
	}
	fill := func() { // take whatever else is already queued, without waiting
		for len(batch) < maxAuditBatch {
			select {
			case ev := <-a.ch:
				batch = append(batch, ev)
			default:
				return
			}
		}
	}
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case ev := <-a.ch:
			batch = append(batch, ev)
			// Let the events of a steady stream of requests queue up in
			// the channel for a moment, so they become few large messages
			// rather than many small ones, without waking this goroutine
			// for each of them (the channel holds opts.Buffer events; at
			// the linger below it takes well over a million events a
			// second to fill it).
			linger.Reset(auditLinger)
			select {
			case <-linger.C:
			case <-a.stop:
				linger.Stop()
			}
			for {
				fill()
				full := len(batch) == maxAuditBatch
				publish()
				if !full {
					break
				}
			}
		case <-a.stop:
			for {
				fill()
				if len(batch) == 0 {
					break
				}
				publish()
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(5 * time.Second):
			}
			return
		}
	}
}

// Publish stores ev in the audit stream synchronously (waiting for
// JetStream's acknowledgement), for callers that must know the event is
// durable before they go on — a job's final outcome is published before
// the job's message is acknowledged. It fills ID, Time and NodeID like
// Emit.
func (a *AuditEmitter) Publish(ctx context.Context, ev AuditEvent) error {
	if ev.ID == "" {
		ev.ID = a.nextID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.NodeID == "" {
		ev.NodeID = a.opts.NodeID
	}
	subj, err := AuditSubject(ev.Kind)
	if err != nil {
		return err
	}
	data, err := json.Marshal(&ev)
	if err != nil {
		return err
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: data, Header: nats.Header{HeaderMsgID: {ev.ID}}}); err != nil {
		a.failed.Add(1)
		return fmt.Errorf("audit: publish: %w", err)
	}
	a.emitted.Add(1)
	return nil
}

// auditBatchKind is the subject token of batched event messages; their
// payload is a msgpack array of AuditEvent (a JSON array before 2026-11-27;
// DecodeAuditEvents reads both).
const auditBatchKind = "events"

// auditCountHeader carries the number of events in a batch message.
const auditCountHeader = "Avap-Audit-Count"

func auditCount(m *nats.Msg) uint64 {
	if m == nil {
		return 1
	}
	if n, err := strconv.ParseUint(m.Header.Get(auditCountHeader), 10, 32); err == nil && n > 0 {
		return n
	}
	return 1
}

// DecodeAuditEvents decodes one audit stream message: a single JSON event
// (published by Publish), a msgpack array of events (a batch from the
// emitter's background publisher) or a JSON array of events (a batch of an
// earlier version, e.g. from a restored backup).
func DecodeAuditEvents(data []byte) ([]AuditEvent, error) {
	return AppendAuditEvents(nil, data)
}

// AppendAuditEvents is DecodeAuditEvents appending to dst, so a consumer
// can decode message after message into one reused slice. On error dst is
// returned as it was.
func AppendAuditEvents(dst []AuditEvent, data []byte) ([]AuditEvent, error) {
	if len(data) > 0 && (data[0]&0xf0 == 0x90 || data[0] == mpArray16 || data[0] == mpArray32) {
		return decodeAuditBatchInto(dst, data) // a msgpack batch (audit_codec.go)
	}
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) > 0 && data[0] == '[' {
		var evs []AuditEvent
		if err := json.Unmarshal(data, &evs); err != nil {
			return dst, fmt.Errorf("audit: batch: %w", err)
		}
		return append(dst, evs...), nil
	}
	var ev AuditEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return dst, fmt.Errorf("audit: event: %w", err)
	}
	return append(dst, ev), nil
}
