package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avapmesh/avap/registry/postgres"
)

// testDB opens a pool on AVAP_TEST_POSTGRES_DSN in a fresh schema that is
// dropped when the test ends; it skips without the variable.
func testDB(t testing.TB, opts postgres.Options) *postgres.DB {
	t.Helper()
	dsn := os.Getenv("AVAP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("AVAP_TEST_POSTGRES_DSN not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	})
	opts.DSN, opts.Schema = dsn, schema
	db, err := postgres.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

type memLocker struct{ mu sync.Mutex }

func (l *memLocker) Do(ctx context.Context, _ string, _ time.Duration, fn func(context.Context) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fn(ctx)
}

func TestMigrateAndPool(t *testing.T) {
	db := testDB(t, postgres.Options{MaxConns: 4, StatementTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	if err := db.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"00001_init.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t1 (id int PRIMARY KEY);\n-- +goose Down\nDROP TABLE t1;\n")},
		"00002_more.sql": {Data: []byte("-- +goose Up\nALTER TABLE t1 ADD COLUMN v text;\n-- +goose Down\nALTER TABLE t1 DROP COLUMN v;\n")},
	}
	// Concurrent migrators under one lock: applied once, the others no-op.
	var wg sync.WaitGroup
	lk := &memLocker{}
	for range 3 {
		wg.Go(func() {
			if err := db.Migrate(ctx, fsys, "test", lk); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := db.Pool().Exec(ctx, "INSERT INTO t1 (id, v) VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	// The statement timeout applies to every connection.
	if _, err := db.Pool().Exec(ctx, "SELECT pg_sleep(1)"); err == nil {
		t.Fatal("statement timeout not applied")
	}
	if st := db.Stats(); st.Max != 4 || st.Total < 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWaitReadyUnreachable(t *testing.T) {
	db, err := postgres.Open(context.Background(), postgres.Options{DSN: "postgres://u@127.0.0.1:1/x?sslmode=disable", MinConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := db.WaitReady(ctx); err == nil {
		t.Fatal("WaitReady succeeded against a closed port")
	}
	if _, err := postgres.Open(context.Background(), postgres.Options{DSN: "postgres://u:secret@%zz"}); err == nil ||
		err.Error() != "postgres: invalid connection string" {
		t.Fatalf("bad DSN error %v (must not echo the DSN)", err)
	}
}
