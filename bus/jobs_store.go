package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of JobsConfig.
const (
	DefaultJobRetention       = 24 * time.Hour
	DefaultJobMaxAttempts     = 5
	DefaultJobDLQRetention    = 14 * 24 * time.Hour
	DefaultJobDuplicateWindow = 2 * time.Minute
	DefaultJobMaxQueued       = 100_000
	DefaultJobAckWait         = 30 * time.Second
)

// JobsConfig sizes the job streams and buckets. Every process that opens
// them (edges and executors) should use the same values: OpenJobs creates
// or updates the streams to match.
type JobsConfig struct {
	Retention       time.Duration // how long job records (and results) are kept; 0 = DefaultJobRetention
	MaxAttempts     int           // attempts before a job goes to the DLQ; 0 = DefaultJobMaxAttempts
	DLQRetention    time.Duration // how long dead letters are kept; 0 = DefaultJobDLQRetention
	DuplicateWindow time.Duration // JetStream de-duplication window (Nats-Msg-Id); 0 = default
	MaxQueued       int64         // queued jobs per priority before submissions are refused; 0 = default
	AckWait         time.Duration // redelivery delay of a job whose executor stopped heartbeating; 0 = default
	Replicas        int           // stream replicas (cluster); 0 = bus.Replicas
	Memory          bool          // memory storage instead of file (tests)
}

func (c JobsConfig) withDefaults() JobsConfig {
	if c.Retention <= 0 {
		c.Retention = DefaultJobRetention
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultJobMaxAttempts
	}
	if c.DLQRetention <= 0 {
		c.DLQRetention = DefaultJobDLQRetention
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultJobDuplicateWindow
	}
	c.DuplicateWindow = min(c.DuplicateWindow, c.Retention)
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultJobMaxQueued
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultJobAckWait
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	return c
}

// Jobs is the durable job store: the per-priority work-queue streams, the
// record bucket, the dead-letter stream and the callback queue. It is safe
// for concurrent use. Edges use it to submit, inspect, cancel and redrive
// jobs; executors to consume them.
type Jobs struct {
	cfg     JobsConfig
	nc      *nats.Conn
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	streams map[Priority]jetstream.Stream
	dlq     jetstream.Stream
	cb      jetstream.Stream

	mu      sync.Mutex // guards samples (queue-wait estimates)
	samples map[Priority]rateSample
}

type rateSample struct {
	at    time.Time
	acked uint64
	rate  float64 // jobs per second
}

// OpenJobs creates (or updates to cfg) the job streams, consumers and
// bucket on nc's JetStream and returns the store.
func OpenJobs(ctx context.Context, nc *nats.Conn, cfg JobsConfig) (*Jobs, error) {
	if cfg.Replicas <= 0 {
		cfg.Replicas = Replicas(nc) // R3 on a cluster of 3+ servers
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jobs: jetstream: %w", err)
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	j := &Jobs{cfg: cfg, nc: nc, js: js, streams: map[Priority]jetstream.Stream{}, samples: map[Priority]rateSample{}}
	for _, p := range Priorities() {
		name, _ := JobStream(p)
		subj, _ := JobSubject(p)
		s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        name,
			Description: "avap queued jobs, priority " + string(p),
			Subjects:    []string{subj},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     storage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
			MaxMsgs:     cfg.MaxQueued,
			MaxAge:      cfg.Retention,
			Discard:     jetstream.DiscardNew,
		})
		if err != nil {
			return nil, fmt.Errorf("jobs: stream %s: %w", name, err)
		}
		if _, err := s.CreateOrUpdateConsumer(ctx, jobConsumerConfig(cfg)); err != nil {
			return nil, fmt.Errorf("jobs: consumer on %s: %w", name, err)
		}
		j.streams[p] = s
	}
	j.dlq, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              JobsDLQStream,
		Description:       "avap dead-lettered jobs, one subject per job",
		Subjects:          []string{JobsSubjectPrefix + ".dlq.*"},
		Storage:           storage,
		Replicas:          cfg.Replicas,
		MaxAge:            cfg.DLQRetention,
		MaxMsgsPerSubject: 1,
		Duplicates:        cfg.DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: stream %s: %w", JobsDLQStream, err)
	}
	j.cb, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        JobsCallbackStream,
		Description: "avap job callbacks to deliver",
		Subjects:    []string{JobsSubjectPrefix + ".callback.*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.Retention,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: stream %s: %w", JobsCallbackStream, err)
	}
	if _, err := j.cb.CreateOrUpdateConsumer(ctx, jobConsumerConfig(cfg)); err != nil {
		return nil, fmt.Errorf("jobs: callback consumer: %w", err)
	}
	j.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      JobsBucket,
		Description: "avap job records and results",
		TTL:         cfg.Retention,
		History:     1,
		Storage:     storage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: bucket %s: %w", JobsBucket, err)
	}
	return j, nil
}

func jobConsumerConfig(cfg JobsConfig) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       JobsConsumer,
		Description:   "avap executors",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // attempts are counted in the job record
		MaxAckPending: 10_000,
	}
}

// Config returns the configuration the store was opened with (defaults filled).
func (j *Jobs) Config() JobsConfig { return j.cfg }

// JetStream returns the JetStream context of the store.
func (j *Jobs) JetStream() jetstream.JetStream { return j.js }

// Consumer returns the shared durable consumer of priority p's stream.
func (j *Jobs) Consumer(ctx context.Context, p Priority) (jetstream.Consumer, error) {
	s, ok := j.streams[p]
	if !ok {
		return nil, fmt.Errorf("%w: priority %q", ErrInvalidToken, string(p))
	}
	return s.Consumer(ctx, JobsConsumer)
}

// CallbackConsumer returns the shared durable consumer of the callback queue.
func (j *Jobs) CallbackConsumer(ctx context.Context) (jetstream.Consumer, error) {
	return j.cb.Consumer(ctx, JobsConsumer)
}

// JobSubmission is a job to enqueue.
type JobSubmission struct {
	ID          string   // job id; "" = NewJobID()
	Priority    Priority // "" = normal
	Request     []byte   // msgpack Request to run
	RequestID   string   // id of the HTTP request that submitted it
	ClientID    string   // API key id of the submitter; or ""
	CallbackURL string   // where to POST the result; or ""
}

// Submit stores the job's record (state queued) and publishes it to its
// priority's stream, de-duplicated by job id (Nats-Msg-Id). A submission
// whose id already exists returns the existing record with created false
// and enqueues nothing: this is how an idempotent retry finds its job.
// A full queue answers an *Error with CodeOverloaded.
func (j *Jobs) Submit(ctx context.Context, s JobSubmission) (rec *JobRecord, created bool, err error) {
	if s.ID == "" {
		s.ID = NewJobID()
	}
	if err := ValidJobID(s.ID); err != nil {
		return nil, false, err
	}
	if s.Priority == "" {
		s.Priority = PriorityNormal
	}
	subj, err := JobSubject(s.Priority)
	if err != nil {
		return nil, false, err
	}
	now := time.Now().UTC()
	rec = &JobRecord{
		ID: s.ID, State: JobQueued, Priority: s.Priority, RequestID: s.RequestID, ClientID: s.ClientID,
		MaxAttempts: j.cfg.MaxAttempts, CreatedAt: now, UpdatedAt: now, CallbackURL: s.CallbackURL,
	}
	if s.CallbackURL != "" {
		rec.Callback = &CallbackState{State: "pending"}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, false, err
	}
	rev, err := j.kv.Create(ctx, s.ID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		old, _, gerr := j.Get(ctx, s.ID)
		if gerr != nil {
			return nil, false, gerr
		}
		return old, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("jobs: store record: %w", err)
	}
	ack, err := j.publishJob(ctx, subj, s.ID, s.ID, s.RequestID, s.Request)
	if err != nil {
		_ = j.kv.Delete(context.WithoutCancel(ctx), s.ID, jetstream.LastRevision(rev))
		return nil, false, err
	}
	rec.Seq = ack.Sequence
	if data, err = json.Marshal(rec); err == nil {
		// Best effort: the executor may already have moved the record on
		// (it records the sequence itself).
		_, _ = j.kv.Update(ctx, s.ID, data, rev)
	}
	return rec, true, nil
}

func (j *Jobs) publishJob(ctx context.Context, subj, id, msgID, requestID string, req []byte) (*jetstream.PubAck, error) {
	msg := &nats.Msg{Subject: subj, Data: req, Header: nats.Header{}}
	msg.Header.Set(HeaderJobID, id)
	if requestID != "" {
		msg.Header.Set(HeaderRequestID, requestID)
	}
	ack, err := j.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && strings.Contains(strings.ToLower(apiErr.Description), "maximum messages") {
			return nil, NewError(CodeOverloaded, "the job queue is full; retry later")
		}
		return nil, fmt.Errorf("jobs: publish: %w", err)
	}
	return ack, nil
}

// Get returns the record of job id and its revision; ErrJobNotFound when
// there is none (never submitted, or expired after the retention).
func (j *Jobs) Get(ctx context.Context, id string) (*JobRecord, uint64, error) {
	if err := ValidJobID(id); err != nil {
		return nil, 0, err
	}
	e, err := j.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, ErrJobNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("jobs: get %s: %w", id, err)
	}
	var rec JobRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, 0, fmt.Errorf("jobs: record %s: %w", id, err)
	}
	return &rec, e.Revision(), nil
}

// ErrSkipUpdate may be returned by an Update function to leave the record
// as it is; Update then returns the current record and ErrSkipUpdate.
var ErrSkipUpdate = errors.New("update skipped")

// Update applies fn to the current record of id and stores the result with
// a compare-and-swap on the revision, retrying fn on a conflict. fn's
// error (or ErrSkipUpdate) aborts without writing.
func (j *Jobs) Update(ctx context.Context, id string, fn func(*JobRecord) error) (*JobRecord, uint64, error) {
	for range 20 {
		rec, rev, err := j.Get(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if err := fn(rec); err != nil {
			return rec, rev, err
		}
		rec.UpdatedAt = time.Now().UTC()
		newRev, err := j.UpdateAt(ctx, rec, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // someone else wrote first; re-read
		}
		return rec, newRev, err
	}
	return nil, 0, fmt.Errorf("jobs: update %s: too much contention", id)
}

// UpdateAt stores rec only if the record is still at revision rev. A
// conflict returns an error matching jetstream.ErrKeyRevisionMismatch.
func (j *Jobs) UpdateAt(ctx context.Context, rec *JobRecord, rev uint64) (uint64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	n, err := j.kv.Update(ctx, rec.ID, data, rev)
	if err != nil {
		return 0, fmt.Errorf("jobs: update %s: %w", rec.ID, err)
	}
	return n, nil
}

// Cancel cancels a queued or running job: a queued job's message is
// removed from its stream; a running job's executor is told (core NATS
// notice on JobCancelSubject) and stops the run. Finished jobs answer
// ErrJobFinished.
func (j *Jobs) Cancel(ctx context.Context, id string) (*JobRecord, error) {
	var was JobState
	rec, _, err := j.Update(ctx, id, func(r *JobRecord) error {
		if r.State.Terminal() {
			return ErrJobFinished
		}
		was = r.State
		now := time.Now().UTC()
		r.State = JobCanceled
		r.FinishedAt = &now
		r.NextAttempt = nil
		r.History = append(r.History, JobAttempt{Attempt: r.Attempts, StartedAt: now, FinishedAt: &now, Outcome: "canceled"})
		return nil
	})
	if err != nil {
		return rec, err
	}
	if was == JobQueued && rec.Seq > 0 {
		if s, ok := j.streams[rec.Priority]; ok {
			_ = s.DeleteMsg(ctx, rec.Seq) // may be in an executor's hands already; it sees "canceled"
		}
	}
	if subj, err := JobCancelSubject(id); err == nil {
		_ = j.nc.Publish(subj, nil)
	}
	return rec, nil
}

// QueueInfo estimates where a queued job stands: position 1 is the next
// job its priority's consumer will hand out (0 = already handed to an
// executor, waiting for a retry or starting), and wait is the expected
// time until it starts from the recent throughput of that queue (0 when
// unknown).
func (j *Jobs) QueueInfo(ctx context.Context, rec *JobRecord) (position int64, wait time.Duration, err error) {
	cons, err := j.Consumer(ctx, rec.Priority)
	if err != nil {
		return 0, 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	if rec.Seq > info.Delivered.Stream {
		position = int64(rec.Seq - info.Delivered.Stream)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	s, ok := j.samples[rec.Priority]
	switch {
	case !ok:
		j.samples[rec.Priority] = rateSample{at: now, acked: info.AckFloor.Stream}
	case now.Sub(s.at) >= time.Second:
		r := float64(info.AckFloor.Stream-min(s.acked, info.AckFloor.Stream)) / now.Sub(s.at).Seconds()
		if s.rate > 0 {
			r = 0.5*r + 0.5*s.rate
		}
		s = rateSample{at: now, acked: info.AckFloor.Stream, rate: r}
		j.samples[rec.Priority] = s
	}
	if s.rate > 0 && position > 0 {
		wait = time.Duration(float64(position) / s.rate * float64(time.Second))
	}
	return position, wait, nil
}

// DeadLetterJob publishes dl to the dead-letter stream (one entry per job;
// a newer one replaces the older).
func (j *Jobs) DeadLetterJob(ctx context.Context, dl *DeadLetter) error {
	subj, err := JobDLQSubject(dl.ID)
	if err != nil {
		return err
	}
	data, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	msgID := "dlq-" + dl.ID + "-" + strconv.Itoa(dl.Attempts) + "-" + strconv.FormatInt(dl.DeadAt.UnixNano(), 36)
	if _, err := j.js.Publish(ctx, subj, data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("jobs: dead-letter %s: %w", dl.ID, err)
	}
	return nil
}

// DeadLetters lists up to limit dead letters, oldest first, starting after
// stream sequence after (0 = from the start). next is the cursor of the
// following page (0 = none).
func (j *Jobs) DeadLetters(ctx context.Context, after uint64, limit int) (out []DeadLetter, next uint64, err error) {
	if limit <= 0 {
		limit = 100
	}
	info, err := j.dlq.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("jobs: dlq info: %w", err)
	}
	seq := max(after+1, info.State.FirstSeq)
	for ; seq <= info.State.LastSeq && len(out) < limit; seq++ {
		m, err := j.dlq.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, 0, fmt.Errorf("jobs: dlq read: %w", err)
		}
		var dl DeadLetter
		if json.Unmarshal(m.Data, &dl) != nil {
			continue
		}
		dl.Seq = m.Sequence
		dl.Request = nil // not listed
		out = append(out, dl)
	}
	if seq <= info.State.LastSeq {
		next = seq - 1
	}
	return out, next, nil
}

// DeadLetter returns the dead letter of job id.
func (j *Jobs) DeadLetter(ctx context.Context, id string) (*DeadLetter, error) {
	subj, err := JobDLQSubject(id)
	if err != nil {
		return nil, err
	}
	m, err := j.dlq.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrJobNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: dlq get %s: %w", id, err)
	}
	var dl DeadLetter
	if err := json.Unmarshal(m.Data, &dl); err != nil {
		return nil, fmt.Errorf("jobs: dlq entry %s: %w", id, err)
	}
	dl.Seq = m.Sequence
	return &dl, nil
}

// DeleteDeadLetter removes the dead letter of job id.
func (j *Jobs) DeleteDeadLetter(ctx context.Context, id string) error {
	if _, err := j.DeadLetter(ctx, id); err != nil {
		return err
	}
	subj, _ := JobDLQSubject(id)
	if err := j.dlq.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return fmt.Errorf("jobs: dlq delete %s: %w", id, err)
	}
	return nil
}

// Redrive puts a dead-lettered job back in its queue with a fresh attempt
// budget (its history is kept, with a "redriven" entry) and removes the
// dead letter. Run it under a lock (Locks.Do) so two admins cannot redrive
// the same job twice.
func (j *Jobs) Redrive(ctx context.Context, id string) (*JobRecord, error) {
	dl, err := j.DeadLetter(ctx, id)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	reset := func(r *JobRecord) {
		r.State = JobQueued
		r.Attempts = 0
		r.MaxAttempts = j.cfg.MaxAttempts
		r.Reply, r.FinishedAt, r.StartedAt, r.NextAttempt, r.DeadReason = nil, nil, nil, nil, ""
		r.History = append(r.History, JobAttempt{Attempt: 0, StartedAt: now, Outcome: "redriven"})
		if r.CallbackURL != "" {
			r.Callback = &CallbackState{State: "pending"}
		}
	}
	rec, rev, err := j.Update(ctx, id, func(r *JobRecord) error { reset(r); return nil })
	if errors.Is(err, ErrJobNotFound) { // the record expired: rebuild it from the dead letter
		rec = &JobRecord{ID: id, Priority: dl.Priority, CreatedAt: now, UpdatedAt: now, History: dl.History}
		reset(rec)
		data, _ := json.Marshal(rec)
		rev, err = j.kv.Create(ctx, id, data)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: redrive %s: %w", id, err)
	}
	subj, err := JobSubject(rec.Priority)
	if err != nil {
		return nil, err
	}
	ack, err := j.publishJob(ctx, subj, id, id+"-r"+strconv.FormatUint(dl.Seq, 10), rec.RequestID, dl.Request)
	if err != nil {
		return nil, err
	}
	rec.Seq = ack.Sequence
	_, _ = j.UpdateAt(ctx, rec, rev)
	dsubj, _ := JobDLQSubject(id)
	if err := j.dlq.Purge(ctx, jetstream.WithPurgeSubject(dsubj)); err != nil {
		return rec, fmt.Errorf("jobs: redrive %s: remove dead letter: %w", id, err)
	}
	return rec, nil
}

// EnqueueCallback queues delivery of job id's callback (de-duplicated, so
// an executor that finishes a redelivered job enqueues it once).
func (j *Jobs) EnqueueCallback(ctx context.Context, id string, attemptTag string) error {
	subj, err := JobCallbackSubject(id)
	if err != nil {
		return err
	}
	if _, err := j.js.Publish(ctx, subj, []byte(id), jetstream.WithMsgID("cb-"+id+"-"+attemptTag)); err != nil {
		return fmt.Errorf("jobs: enqueue callback %s: %w", id, err)
	}
	return nil
}
