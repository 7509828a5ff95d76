// Package postgres opens and watches the PostgreSQL connection pool that
// avap components share (the audit sink, the registry) and runs their
// schema migrations.
//
// Open accepts a libpq/URL connection string and bounds: the pool sizing
// (MinConns kept warm, MaxConns at peak, idle connections above the
// minimum closed after MaxConnIdleTime, so the pool follows the load), a
// per-statement timeout set on every connection (statement_timeout), a
// periodic health check of idle connections, and a slow-query log.
// Statements are prepared and cached per connection by pgx's default
// query mode, so hot queries are parsed once. Open does not wait for the
// server: connections are made on demand, and a server that goes away is
// reconnected on the next use. WaitReady pings with exponential backoff
// for callers that need the server before going on.
//
// Migrate runs embedded goose migrations (SQL files) under a distributed
// lock, so of many nodes starting together exactly one migrates and the
// others wait and then find nothing to do.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Defaults of Options.
const (
	DefaultMaxConns          = 8
	DefaultMinConns          = 1
	DefaultStatementTimeout  = 30 * time.Second
	DefaultSlowQuery         = 500 * time.Millisecond
	DefaultHealthCheckPeriod = 30 * time.Second
	DefaultMaxConnIdleTime   = 5 * time.Minute
	DefaultConnectTimeout    = 5 * time.Second
)

// Options configure Open.
type Options struct {
	DSN               string        // connection string (postgres://... or key=value); required
	MinConns          int32         // connections kept open; 0 = DefaultMinConns
	MaxConns          int32         // upper bound; 0 = DefaultMaxConns
	MaxConnIdleTime   time.Duration // idle connections above MinConns close after this; 0 = default
	StatementTimeout  time.Duration // server-side bound on one statement; 0 = default, <0 = none
	SlowQuery         time.Duration // log statements slower than this at warn; 0 = default, <0 = off
	HealthCheckPeriod time.Duration // idle connection check interval; 0 = default
	ConnectTimeout    time.Duration // bound on dialing one connection; 0 = default
	Schema            string        // search_path to use (tests: a throwaway schema); or ""
	Logger            *slog.Logger  // or nil
	// BeforeConnect adjusts the config of each new connection (a rotated
	// password: cmd/avap sets the current one); or nil. Connections already
	// open keep theirs until recycled (pgx's MaxConnLifetime, 1h, or
	// pool_max_conn_lifetime in the DSN).
	BeforeConnect func(context.Context, *pgx.ConnConfig) error
}

// DB is an open pool.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	opts Options
}

// Open validates opts and creates the pool. It does not wait for the
// server (see WaitReady).
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.DSN == "" {
		return nil, errors.New("postgres: empty DSN")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MinConns <= 0 {
		opts.MinConns = DefaultMinConns
	}
	opts.MinConns = min(opts.MinConns, opts.MaxConns)
	if opts.MaxConnIdleTime <= 0 {
		opts.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if opts.StatementTimeout == 0 {
		opts.StatementTimeout = DefaultStatementTimeout
	}
	if opts.SlowQuery == 0 {
		opts.SlowQuery = DefaultSlowQuery
	}
	if opts.HealthCheckPeriod <= 0 {
		opts.HealthCheckPeriod = DefaultHealthCheckPeriod
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx's message may quote the DSN (and a password): do not wrap it.
		return nil, errors.New("postgres: invalid connection string")
	}
	cfg.MinConns, cfg.MaxConns = opts.MinConns, opts.MaxConns
	cfg.MaxConnIdleTime = opts.MaxConnIdleTime
	cfg.HealthCheckPeriod = opts.HealthCheckPeriod
	cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "avap"
	if opts.SlowQuery > 0 {
		cfg.ConnConfig.Tracer = &slowQueryTracer{threshold: opts.SlowQuery, log: opts.Logger}
	}
	cfg.BeforeConnect = opts.BeforeConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	return &DB{pool: pool, log: opts.Logger, opts: opts}, nil
}

// Pool returns the pgx pool.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Check pings the server (health checks).
func (db *DB) Check(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// WaitReady pings with exponential backoff (100 ms doubling to 10 s, with
// jitter) until the server answers or ctx ends.
func (db *DB) WaitReady(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, db.opts.ConnectTimeout)
		err := db.Check(pctx)
		cancel()
		if err == nil {
			return nil
		}
		db.log.Warn("postgres not reachable; retrying", "err", err, "in", wait)
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// PoolStats is a snapshot of the pool.
type PoolStats struct {
	Total, Idle, Acquired, Max int32
	Acquires, EmptyAcquires    int64 // EmptyAcquires waited for a connection
	AcquireDuration            time.Duration
	NewConns                   int64
}

// Stats returns a snapshot of the pool (for metrics).
func (db *DB) Stats() PoolStats {
	s := db.pool.Stat()
	return PoolStats{
		Total: s.TotalConns(), Idle: s.IdleConns(), Acquired: s.AcquiredConns(), Max: s.MaxConns(),
		Acquires: s.AcquireCount(), EmptyAcquires: s.EmptyAcquireCount(), AcquireDuration: s.AcquireDuration(),
		NewConns: s.NewConnsCount(),
	}
}

// Locker runs fn under a cluster-wide lock (bus.Locks is one).
type Locker interface {
	Do(ctx context.Context, name string, ttl time.Duration, fn func(ctx context.Context) error) error
}

// Migrate applies the goose SQL migrations of fsys (files like
// 00001_name.sql at its root) that are not applied yet. component names
// the version table (avap_<component>_migrations) so several components
// migrate the same database independently. With a locker the run holds
// the lock "migrate-<component>"; without one it relies on nothing else
// migrating concurrently.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, component string, locker Locker) error {
	run := func(ctx context.Context) error {
		sqlDB := stdlib.OpenDBFromPool(db.pool)
		defer sqlDB.Close()
		return db.migrate(ctx, sqlDB, fsys, component)
	}
	if locker == nil {
		return run(ctx)
	}
	return locker.Do(ctx, "migrate-"+component, 2*time.Minute, run)
}

func (db *DB) migrate(ctx context.Context, sqlDB *sql.DB, fsys fs.FS, component string) error {
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithTableName("avap_"+component+"_migrations"))
	if err != nil {
		return fmt.Errorf("postgres: migrations of %s: %w", component, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate %s: %w", component, err)
	}
	for _, r := range res {
		db.log.Info("migration applied", "component", component, "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// slowQueryTracer logs statements slower than threshold (the SQL text,
// shortened; never the arguments).
type slowQueryTracer struct {
	threshold time.Duration
	log       *slog.Logger
}

type traceKey struct{}

type traceStart struct {
	at  time.Time
	sql string
}

func (t *slowQueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{at: time.Now(), sql: d.SQL})
}

func (t *slowQueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	if el := time.Since(st.at); el >= t.threshold {
		sqlText := st.sql
		if len(sqlText) > 200 {
			sqlText = sqlText[:200] + "..."
		}
		t.log.Warn("slow query", "duration", el, "sql", sqlText, "err", d.Err)
	}
}
