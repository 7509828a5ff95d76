package registry

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// PostgresOptions configure a PostgresStore.
type PostgresOptions struct {
	DSN    string       // connection string; required
	Schema string       // schema to use (created if missing); or "" for the DSN's search_path
	Logger *slog.Logger // or nil
	// BeforeConnect adjusts the config of each new connection (a rotated
	// password); or nil.
	BeforeConnect func(context.Context, *pgx.ConnConfig) error
}

// PostgresStore is the Store of a cluster: PostgreSQL through a pgx pool,
// its schema migrated by goose at open (with a session lock, so several
// registries may start at once).
type PostgresStore struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// OpenPostgres connects, migrates the schema up and returns the store.
func OpenPostgres(ctx context.Context, o PostgresOptions) (*PostgresStore, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("registry postgres: parse dsn: %w", err)
	}
	if o.Schema != "" {
		if ValidName(o.Schema) != nil {
			return nil, fmt.Errorf("registry postgres: bad schema %q", o.Schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = o.Schema
	}
	cfg.BeforeConnect = o.BeforeConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("registry postgres: %w", err)
	}
	if o.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{o.Schema}.Sanitize()); err != nil {
			pool.Close()
			return nil, fmt.Errorf("registry postgres: create schema: %w", err)
		}
	}
	if err := migrate(ctx, pool, o.Logger); err != nil {
		pool.Close()
		return nil, err
	}
	return &PostgresStore{pool: pool, log: o.Logger}, nil
}

// migrate applies the embedded migrations that are not applied yet.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker),
		goose.WithTableName("registry_schema_migrations"))
	if err != nil {
		return fmt.Errorf("registry postgres: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("registry postgres: migrate up: %w", err)
	}
	for _, r := range res {
		log.Info("registry migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Pool returns the connection pool (for tests and health checks).
func (s *PostgresStore) Pool() *pgxpool.Pool { return s.pool }

const entryCols = "name, version, kind, hash, status, reason, revision, key_id, published_at"

func scanEntry(row pgx.Row, extra ...any) (Entry, error) {
	var e Entry
	dst := append([]any{&e.Name, &e.Version, &e.Kind, &e.Hash, &e.Status, &e.Reason, &e.Revision, &e.KeyID, &e.Published}, extra...)
	err := row.Scan(dst...)
	e.Published = e.Published.UTC()
	return e, err
}

// Publish implements Store.
func (s *PostgresStore) Publish(ctx context.Context, rec *Record) (Entry, error) {
	if !validHash(rec.Hash) {
		return Entry{}, fmt.Errorf("%w: hash %q", ErrInvalid, rec.Hash)
	}
	var out Entry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := scanEntry(tx.QueryRow(ctx, "SELECT "+entryCols+" FROM registry_packages WHERE name = $1 AND version = $2 FOR UPDATE", rec.Name, rec.Version))
		if err == nil {
			if e.Hash != rec.Hash {
				return fmt.Errorf("%w: %s@%s", ErrExists, rec.Name, rec.Version)
			}
			out = e
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = scanEntry(tx.QueryRow(ctx, `INSERT INTO registry_packages (name, version, kind, hash, status, reason, revision, key_id, envelope)
			VALUES ($1, $2, $3, $4, 'active', '', nextval('registry_revision'), $5, $6)
			ON CONFLICT (name, version) DO NOTHING
			RETURNING `+entryCols, rec.Name, rec.Version, rec.Kind, rec.Hash, rec.KeyID, rec.Envelope))
		if errors.Is(err, pgx.ErrNoRows) { // a concurrent publish of the same version won
			return fmt.Errorf("%w: %s@%s (concurrent publish)", ErrExists, rec.Name, rec.Version)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO registry_events (revision, name, version, action) VALUES ($1, $2, $3, 'publish')", out.Revision, out.Name, out.Version)
		return err
	})
	if err != nil && !errors.Is(err, ErrExists) {
		return Entry{}, fmt.Errorf("registry postgres: publish %s@%s: %w", rec.Name, rec.Version, err)
	}
	return out, err
}

func (s *PostgresStore) getRecord(ctx context.Context, where string, args ...any) (*Record, error) {
	rec := &Record{}
	e, err := scanEntry(s.pool.QueryRow(ctx, "SELECT "+entryCols+", envelope FROM registry_packages WHERE "+where, args...), &rec.Envelope)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("registry postgres: %w", err)
	}
	rec.Entry = e
	return rec, nil
}

// Get implements Store.
func (s *PostgresStore) Get(ctx context.Context, name, version string) (*Record, error) {
	r, err := s.getRecord(ctx, "name = $1 AND version = $2", name, version)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
	}
	return r, err
}

// GetByHash implements Store.
func (s *PostgresStore) GetByHash(ctx context.Context, hash string) (*Record, error) {
	r, err := s.getRecord(ctx, "hash = $1 ORDER BY revision LIMIT 1", hash)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: hash %s", ErrNotFound, shortHash(hash))
	}
	return r, err
}

func (s *PostgresStore) entries(ctx context.Context, q string, args ...any) ([]Entry, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("registry postgres: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("registry postgres: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry postgres: %w", err)
	}
	return out, nil
}

// List implements Store.
func (s *PostgresStore) List(ctx context.Context, name string) ([]Entry, error) {
	if name == "" {
		return s.entries(ctx, "SELECT "+entryCols+" FROM registry_packages ORDER BY revision")
	}
	return s.entries(ctx, "SELECT "+entryCols+" FROM registry_packages WHERE name = $1 ORDER BY revision", name)
}

// Since implements Store.
func (s *PostgresStore) Since(ctx context.Context, rev int64) ([]Entry, int64, error) {
	var cur int64
	// The sequence's last value bounds every committed revision.
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(revision), 0) FROM registry_packages").Scan(&cur); err != nil {
		return nil, 0, fmt.Errorf("registry postgres: %w", err)
	}
	es, err := s.entries(ctx, "SELECT "+entryCols+" FROM registry_packages WHERE revision > $1 ORDER BY revision", rev)
	return es, cur, err
}

// SetStatus implements Store.
func (s *PostgresStore) SetStatus(ctx context.Context, name, version, status, reason string) (Entry, error) {
	if err := validStatus(status); err != nil {
		return Entry{}, err
	}
	var out Entry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = scanEntry(tx.QueryRow(ctx, `UPDATE registry_packages SET status = $3, reason = $4, revision = nextval('registry_revision'), updated_at = now()
			WHERE name = $1 AND version = $2 RETURNING `+entryCols, name, version, status, reason))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO registry_events (revision, name, version, action, reason) VALUES ($1, $2, $3, $4, $5)", out.Revision, name, version, status, reason)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Entry{}, fmt.Errorf("registry postgres: set status %s@%s: %w", name, version, err)
	}
	return out, err
}

// Close implements Store.
func (s *PostgresStore) Close() { s.pool.Close() }
