package main

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/registry/audit"
	"github.com/avapmesh/avap/registry/postgres"
)

// JobsConfig configures asynchronous jobs (/api/v1/jobs), retries, the
// dead-letter queue, callbacks and Idempotency-Key.
type JobsConfig struct {
	Enabled             bool          `koanf:"enabled" help:"serve /api/v1/jobs, /api/v1/dlq and Idempotency-Key, and run queued jobs (needs JetStream)"`
	Workers             int           `koanf:"workers" help:"jobs an executor runs at once; 0 = executor.workers"`
	MaxAttempts         int           `koanf:"max_attempts" help:"attempts of a job failing with a retryable code before it goes to the DLQ"`
	BackoffBase         time.Duration `koanf:"backoff_base" help:"delay before the 2nd attempt; doubles per attempt, with jitter"`
	BackoffMax          time.Duration `koanf:"backoff_max" help:"cap on the retry delay"`
	AckWait             time.Duration `koanf:"ack_wait" help:"a job whose executor stopped heartbeating is redelivered after this"`
	Retention           time.Duration `koanf:"retention" help:"how long job records and results are kept"`
	DLQRetention        time.Duration `koanf:"dlq_retention" help:"how long dead letters are kept"`
	MaxQueued           int64         `koanf:"max_queued" help:"queued jobs per priority before submissions answer 503"`
	IdempotencyTTL      time.Duration `koanf:"idempotency_ttl" help:"how long an Idempotency-Key response is replayed"`
	CallbackSecret      Secret        `koanf:"callback_secret" reload:"true" help:"HMAC-SHA256 key signing callbacks (secret: env, callback_secret_file or callback_secret_vault); callbacks fail without it"`
	CallbackTimeout     time.Duration `koanf:"callback_timeout" help:"bound on one callback delivery"`
	CallbackMaxAttempts int           `koanf:"callback_max_attempts" help:"deliveries of one callback before it is marked failed"`
	CallbackAllow       []string      `koanf:"callback_allow" help:"hosts/CIDRs callbacks may reach beyond public addresses (same syntax as the egress allow list)"`

	CallbackSecretFile  string `koanf:"callback_secret_file" reload:"true" help:"file holding jobs.callback_secret (e.g. a mounted Kubernetes Secret); re-read on every load (secrets_file.go)"`
	CallbackSecretVault string `koanf:"callback_secret_vault" reload:"true" help:"Vault KV v2 reference <path>#<key> of jobs.callback_secret"`
}

// AuditConfig configures the audit trail.
type AuditConfig struct {
	Enabled           bool          `koanf:"enabled" help:"emit an audit event per execution and admin action"`
	Sink              bool          `koanf:"sink" help:"run the audit sink (stream -> PostgreSQL or files) on this node (serve, executor)"`
	Dir               string        `koanf:"dir" help:"JSON-lines directory without PostgreSQL; empty = <data_dir>/audit"`
	FileMaxBytes      ByteSize      `koanf:"file_max_bytes" help:"rotate audit files past this size"`
	Retention         time.Duration `koanf:"retention" help:"events older than this are deleted by the scheduled prune"`
	RetentionInterval time.Duration `koanf:"retention_interval" help:"how often the prune runs (one sink at a time)"`
	BatchSize         int           `koanf:"batch_size" help:"events per PostgreSQL transaction"`
	FlushInterval     time.Duration `koanf:"flush_interval" help:"longest wait to fill a batch"`
	Buffer            int           `koanf:"buffer" help:"events queued in memory per process before emission drops (never blocks a run)"`
	StreamMaxAge      time.Duration `koanf:"stream_max_age" help:"events not written within this are dropped from the stream"`
	StreamMaxBytes    ByteSize      `koanf:"stream_max_bytes" help:"bound on the audit backlog in JetStream"`
}

func defaultJobsConfig() JobsConfig {
	return JobsConfig{
		Enabled: true, MaxAttempts: 5, BackoffBase: time.Second, BackoffMax: 5 * time.Minute, AckWait: 30 * time.Second,
		Retention: 24 * time.Hour, DLQRetention: 14 * 24 * time.Hour, MaxQueued: 100_000, IdempotencyTTL: 24 * time.Hour,
		CallbackTimeout: 10 * time.Second, CallbackMaxAttempts: 8, CallbackAllow: []string{},
	}
}

func defaultAuditConfig() AuditConfig {
	return AuditConfig{
		Enabled: true, Sink: true, FileMaxBytes: 64 << 20, Retention: 90 * 24 * time.Hour, RetentionInterval: time.Hour,
		BatchSize: 500, FlushInterval: time.Second, Buffer: 8192, StreamMaxAge: 7 * 24 * time.Hour, StreamMaxBytes: 1 << 30,
	}
}

func (c *Config) validateDurable() []problem {
	var ps []problem
	add := func(key, msg string) { ps = append(ps, problem{key, msg}) }
	j := c.Jobs
	if j.Workers < 0 {
		add("jobs.workers", "must not be negative")
	}
	if j.MaxAttempts < 1 || j.MaxAttempts > 100 {
		add("jobs.max_attempts", "must be between 1 and 100")
	}
	for k, d := range map[string]time.Duration{
		"jobs.backoff_base": j.BackoffBase, "jobs.backoff_max": j.BackoffMax, "jobs.ack_wait": j.AckWait,
		"jobs.retention": j.Retention, "jobs.dlq_retention": j.DLQRetention, "jobs.idempotency_ttl": j.IdempotencyTTL,
		"jobs.callback_timeout": j.CallbackTimeout, "audit.retention": c.Audit.Retention,
		"audit.retention_interval": c.Audit.RetentionInterval, "audit.flush_interval": c.Audit.FlushInterval,
		"audit.stream_max_age": c.Audit.StreamMaxAge,
	} {
		if d <= 0 {
			add(k, "must be positive")
		}
	}
	if j.BackoffMax < j.BackoffBase {
		add("jobs.backoff_max", "must not be below jobs.backoff_base")
	}
	if j.AckWait > 0 && j.AckWait < time.Second {
		add("jobs.ack_wait", "must be at least 1s")
	}
	if j.MaxQueued <= 0 {
		add("jobs.max_queued", "must be positive")
	}
	if j.CallbackMaxAttempts < 1 {
		add("jobs.callback_max_attempts", "must be positive")
	}
	if _, err := executor.NewEgressPolicy(j.CallbackAllow); err != nil {
		add("jobs.callback_allow", err.Error())
	}
	a := c.Audit
	if a.FileMaxBytes < 4096 {
		add("audit.file_max_bytes", "must be at least 4KiB")
	}
	if a.BatchSize < 1 || a.BatchSize > 10_000 {
		add("audit.batch_size", "must be between 1 and 10000")
	}
	if a.Buffer < 1 {
		add("audit.buffer", "must be positive")
	}
	if a.StreamMaxBytes <= 0 {
		add("audit.stream_max_bytes", "must be positive")
	}
	return ps
}

func (j JobsConfig) store() bus.JobsConfig {
	return bus.JobsConfig{
		Retention: j.Retention, MaxAttempts: j.MaxAttempts, DLQRetention: j.DLQRetention, MaxQueued: j.MaxQueued, AckWait: j.AckWait,
	}
}

func (a AuditConfig) stream() bus.AuditStreamConfig {
	return bus.AuditStreamConfig{MaxAge: a.StreamMaxAge, MaxBytes: int64(a.StreamMaxBytes)}
}

// newAuditEmitter returns the node's audit emitter, or nil when audit is off.
func newAuditEmitter(w wiring) *bus.AuditEmitter {
	cfg := w.Config.Current()
	if !cfg.Audit.Enabled || w.Conn == nil {
		return nil
	}
	return bus.NewAuditEmitter(w.Conn, bus.AuditEmitterOptions{
		Buffer: cfg.Audit.Buffer, NodeID: w.NodeID, Stream: cfg.Audit.stream(), Logger: w.Log.With("part", "audit"),
	})
}

// executorAuditor adapts a possibly nil emitter to executor.Auditor.
func executorAuditor(a *bus.AuditEmitter) executor.Auditor {
	if a == nil {
		return nil
	}
	return a
}

// edgeJobs returns the edge's durable-work options.
func edgeJobs(w wiring, a *bus.AuditEmitter) edge.JobsOptions {
	cfg := w.Config.Current()
	o := edge.JobsOptions{
		Disabled: !cfg.Jobs.Enabled, Store: cfg.Jobs.store(), IdempotencyTTL: cfg.Jobs.IdempotencyTTL, NodeID: w.NodeID,
	}
	if a != nil {
		o.Audit = a
	}
	return o
}

// durable wraps the executor role with what durable work needs, started
// in order after it: the audit emitter (before, so the first run is
// audited), the job runner, and the audit sink with its database.
type durable struct {
	w       wiring
	inner   component
	e       *executor.Executor
	emitter *bus.AuditEmitter

	runner *executor.JobRunner
	sink   *audit.Sink
	db     *postgres.DB
}

func withDurable(w wiring, e *executor.Executor, emitter *bus.AuditEmitter, inner component) (component, error) {
	d := &durable{w: w, inner: inner, e: e, emitter: emitter}
	if emitter != nil {
		w.Config.OnReload(func(_, _ *Config) {
			emitter.Emit(bus.AuditEvent{Kind: bus.AuditAdmin, Action: "config.reload", Target: w.NodeID, Outcome: "ok", Status: 200})
		})
	}
	return d, nil
}

func (d *durable) Start(ctx context.Context) error {
	cfg := d.w.Config.Current()
	if d.emitter != nil {
		if err := d.emitter.Start(ctx); err != nil {
			d.w.Log.Warn("audit disabled: no JetStream", "err", err)
			d.emitter = nil
		}
	}
	if err := d.inner.Start(ctx); err != nil {
		return err
	}
	if cfg.Jobs.Enabled {
		jobs, err := bus.OpenJobs(ctx, d.w.Conn, cfg.Jobs.store())
		if err != nil {
			d.w.Log.Warn("jobs disabled on this executor: no JetStream", "err", err)
		} else {
			observeJobQueues(d.w, jobs) // queue and DLQ sizes (telemetry_more.go)
			policy, _ := executor.NewEgressPolicy(cfg.Jobs.CallbackAllow)
			if len(cfg.Jobs.CallbackAllow) == 0 {
				policy = nil
			}
			d.runner, err = executor.NewJobRunner(d.e, executor.JobOptions{
				Jobs: jobs, Workers: cfg.Jobs.Workers, BackoffBase: cfg.Jobs.BackoffBase, BackoffMax: cfg.Jobs.BackoffMax,
				CallbackSecret: []byte(cfg.Jobs.CallbackSecret.Reveal()), CallbackTimeout: cfg.Jobs.CallbackTimeout,
				CallbackMaxAttempts: cfg.Jobs.CallbackMaxAttempts, CallbackEgress: policy,
				Audit: executorAuditor(d.emitter), Logger: d.w.Log.With("part", "jobs"),
				Breakers: d.w.Breakers, // a circuit breaker per callback host (executor/host_breaker.go)
			})
			if err == nil {
				watchCallbackSecret(d.w, d.runner) // jobs.callback_secret is reloadable (secrets_reload.go)
				err = d.runner.Start(ctx)
			}
			if err != nil {
				return errors.Join(err, d.inner.Shutdown(ctx))
			}
		}
	}
	if cfg.Audit.Enabled && cfg.Audit.Sink {
		if err := d.startSink(ctx, cfg); err != nil {
			d.w.Log.Warn("audit sink not started", "err", err)
		}
	}
	observeDurable(d.w, d.runner, d.emitter, d.sink, d.db) // metrics (telemetry_components.go)
	return nil
}

func (d *durable) startSink(ctx context.Context, cfg *Config) error {
	opts := audit.Options{
		Conn: d.w.Conn, FileMaxBytes: int64(cfg.Audit.FileMaxBytes), BatchSize: cfg.Audit.BatchSize,
		FlushInterval: cfg.Audit.FlushInterval, Retention: cfg.Audit.Retention, RetentionInterval: cfg.Audit.RetentionInterval,
		Stream: cfg.Audit.stream(), Version: semver(d.w.Build.Version), Logger: d.w.Log.With("part", "audit-sink"),
		Breakers: d.w.Breakers, // circuit breaker on PostgreSQL writes (registry/audit/breaker.go)
	}
	if locks, err := bus.OpenLocks(ctx, d.w.Conn, d.w.NodeID, false); err == nil {
		opts.Locks = locks
	}
	if dsn := cfg.Postgres.DSN.Reveal(); dsn != "" {
		db, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Logger: d.w.Log.With("part", "postgres"),
			BeforeConnect: pgBeforeConnect(d.w.Config)}) // rotated password (secrets_pg.go)
		if err != nil {
			return err
		}
		d.db, opts.DB = db, db
	} else {
		opts.Dir = cfg.Audit.Dir
		if opts.Dir == "" {
			opts.Dir = filepath.Join(cfg.DataDir, "audit")
		}
	}
	s, err := audit.New(opts)
	if err == nil {
		err = s.Start(ctx)
	}
	if err != nil {
		if d.db != nil {
			d.db.Close()
			d.db = nil
		}
		return err
	}
	d.sink = s
	return nil
}

func (d *durable) Shutdown(ctx context.Context) error {
	var errs []error
	if d.runner != nil {
		errs = append(errs, d.runner.Shutdown(ctx))
	}
	errs = append(errs, d.inner.Shutdown(ctx))
	if d.sink != nil {
		errs = append(errs, d.sink.Shutdown(ctx))
	}
	if d.db != nil {
		d.db.Close()
	}
	if d.emitter != nil {
		errs = append(errs, d.emitter.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (d *durable) Ready() <-chan struct{} { return d.inner.Ready() }

func (d *durable) Check(ctx context.Context) error {
	if c, ok := d.inner.(checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// withEmitter starts an edge's audit emitter (admin events) before the
// edge and stops it after.
type edgeAudit struct {
	component
	emitter *bus.AuditEmitter
	w       wiring
}

func withEmitter(w wiring, c component, a *bus.AuditEmitter) component {
	if a == nil {
		return c
	}
	return &edgeAudit{component: c, emitter: a, w: w}
}

func (e *edgeAudit) Start(ctx context.Context) error {
	if err := e.emitter.Start(ctx); err != nil {
		e.w.Log.Warn("admin audit events not published: no JetStream", "err", err)
	}
	return e.component.Start(ctx)
}

func (e *edgeAudit) Shutdown(ctx context.Context) error {
	err := e.component.Shutdown(ctx)
	return errors.Join(err, e.emitter.Shutdown(ctx))
}

func (e *edgeAudit) Failed() <-chan error {
	if f, ok := e.component.(failer); ok {
		return f.Failed()
	}
	return nil
}

func (e *edgeAudit) Check(ctx context.Context) error {
	if c, ok := e.component.(checker); ok {
		return c.Check(ctx)
	}
	return nil
}
