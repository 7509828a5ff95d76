package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/avapmesh/avap/bus"
)

// keyStore is where API-key records (hashes, never keys) live: PostgreSQL
// when postgres.dsn is set, else <data_dir>/api_keys.json. Edges copy it
// into bus.KeysBucket (wire_protect.go), which is what they enforce.
type keyStore interface {
	List(ctx context.Context) ([]bus.APIKey, error)
	Put(ctx context.Context, rec bus.APIKey) error
	// Stamp changes whenever the records change (cheap to poll).
	Stamp(ctx context.Context) (string, error)
	Close()
}

// openKeyStore opens the store the config names.
func openKeyStore(ctx context.Context, cfg *Config) (keyStore, error) {
	return openKeyStoreLive(ctx, cfg, nil)
}

// openKeyStoreLive is openKeyStore for a long-lived store: new PostgreSQL
// connections take the password of the running config (secrets_pg.go);
// h nil = the password of cfg.
func openKeyStoreLive(ctx context.Context, cfg *Config, h *configHolder) (keyStore, error) {
	if dsn := cfg.Postgres.DSN.Reveal(); dsn != "" {
		return openPGKeyStore(ctx, dsn, h)
	}
	return &fileKeyStore{path: filepath.Join(cfg.DataDir, "api_keys.json")}, nil
}

// fileKeyStore keeps every record in one JSON file (mode 0600), replaced
// atomically on each write.
type fileKeyStore struct{ path string }

func (f *fileKeyStore) List(context.Context) ([]bus.APIKey, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []bus.APIKey
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return recs, nil
}

func (f *fileKeyStore) Put(ctx context.Context, rec bus.APIKey) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	recs, err := f.List(ctx)
	if err != nil {
		return err
	}
	found := false
	for i := range recs {
		if recs[i].ID == rec.ID {
			recs[i], found = rec, true
		}
	}
	if !found {
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Created.Before(recs[j].Created) })
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".api_keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}

func (f *fileKeyStore) Stamp(context.Context) (string, error) {
	fi, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return fi.ModTime().String() + "/" + strconv.FormatInt(fi.Size(), 10), nil
}

func (f *fileKeyStore) Close() {}

// pgKeyStore keeps records in the avap_api_keys table.
type pgKeyStore struct{ pool *pgxpool.Pool }

const pgKeysTable = "avap_api_keys"

func openPGKeyStore(ctx context.Context, dsn string, h *configHolder) (*pgKeyStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("postgres: invalid connection string") // pgx's message may quote the password
	}
	if h != nil {
		cfg.BeforeConnect = pgBeforeConnect(h)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgKeysTable+` (
		id         text PRIMARY KEY,
		record     jsonb NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now()
	)`)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("create %s: %w", pgKeysTable, err)
	}
	return &pgKeyStore{pool: pool}, nil
}

func (p *pgKeyStore) List(ctx context.Context) ([]bus.APIKey, error) {
	rows, err := p.pool.Query(ctx, `SELECT record FROM `+pgKeysTable+` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []bus.APIKey
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var r bus.APIKey
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

func (p *pgKeyStore) Put(ctx context.Context, rec bus.APIKey) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO `+pgKeysTable+` (id, record) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, updated_at = now()`, rec.ID, b)
	return err
}

func (p *pgKeyStore) Stamp(ctx context.Context) (string, error) {
	var s string
	err := p.pool.QueryRow(ctx, `SELECT coalesce(max(updated_at)::text, '') || '/' || count(*)::text FROM `+pgKeysTable).Scan(&s)
	return s, err
}

func (p *pgKeyStore) Close() { p.pool.Close() }
