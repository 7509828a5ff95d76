package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/avapmesh/avap/bus"
)

// pgKeyStoreDSN returns a DSN whose search_path is a fresh schema, dropped
// when the test ends, so the store's fixed table name is private to the test.
func pgKeyStoreDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("AVAP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("AVAP_TEST_POSTGRES_DSN not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "avap_keys_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func testKey(id, secret string) bus.APIKey {
	h := sha256.Sum256([]byte(id + "-key"))
	return bus.APIKey{
		ID:      id,
		Name:    "test " + id,
		Hash:    hex.EncodeToString(h[:]),
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		RPS:     5, Burst: 10,
		Capabilities:  bus.KeyCapabilities()[:1],
		MaxLimits:     bus.KeyLimits{MaxSteps: 1000, TimeoutMS: 250},
		SigningSecret: secret,
	}
}

func TestPGKeyStore(t *testing.T) {
	dsn := pgKeyStoreDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := openPGKeyStore(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	recs, err := st.List(ctx)
	if err != nil || len(recs) != 0 {
		t.Fatalf("empty store: %v %v", recs, err)
	}
	stamp0, err := st.Stamp(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Invalid records are refused and not stored.
	bad := testKey("short", "")
	if err := st.Put(ctx, bad); err == nil {
		t.Fatal("Put accepted an invalid id")
	}

	b := testKey("bbbbbbbbbbbb", "")
	a := testKey("aaaaaaaaaaaa", "00ff")
	a.RequireSignature = true
	for _, r := range []bus.APIKey{b, a} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	stamp1, err := st.Stamp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stamp1 == stamp0 {
		t.Fatalf("stamp unchanged after inserts: %q", stamp1)
	}
	recs, err = st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !reflect.DeepEqual(recs[0], a) || !reflect.DeepEqual(recs[1], b) {
		t.Fatalf("List = %+v\nwant %+v, %+v", recs, a, b)
	}

	// Put with an existing id replaces the record (revocation).
	a.Revoked, a.RevokedAt = true, time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := st.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	stamp2, err := st.Stamp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stamp2 == stamp1 {
		t.Fatalf("stamp unchanged after an update: %q", stamp2)
	}
	if s, _ := st.Stamp(ctx); s != stamp2 {
		t.Fatalf("stamp changed without a write: %q then %q", stamp2, s)
	}

	// A second store on the same database (another process) sees it all;
	// opening again is harmless.
	st2, err := openPGKeyStore(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	recs, err = st2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !reflect.DeepEqual(recs[0], a) || !recs[0].Revoked {
		t.Fatalf("after revoke: %+v", recs)
	}
	if s, _ := st2.Stamp(ctx); s != stamp2 {
		t.Fatalf("second store's stamp %q, first %q", s, stamp2)
	}
}

func TestPGKeyStoreBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := openPGKeyStore(ctx, "host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=1", nil); err == nil {
		t.Fatal("openPGKeyStore succeeded against a closed port")
	}
}
