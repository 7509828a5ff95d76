package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avapmesh/avap/registry/postgres"
)

func TestPasswordOnlyChange(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"postgres://u:p1@db:5432/app?sslmode=require", "postgres://u:p2@db:5432/app?sslmode=require", true},
		{"postgresql://u:p1@db/app", "postgresql://u:p%3A2@db/app", true},
		{"postgres://u@db/app?password=p1&sslmode=disable", "postgres://u@db/app?sslmode=disable&password=p2", true},
		{"host=db user=u password=p1 dbname=app", "host=db  dbname=app user=u password='p 2\\''", true},
		{"host=db user=u password=p1 dbname=app", "host=db user=u dbname=app", true}, // password dropped: still only the password
		{"postgres://u:p1@db:5432/app", "postgres://u:p1@db:5432/app", false},        // no change
		{"postgres://u:p1@db:5432/app", "postgres://u:p2@db2:5432/app", false},       // host
		{"postgres://u:p1@db:5432/app", "postgres://u:p2@db:5433/app", false},        // port
		{"postgres://u:p1@db:5432/app", "postgres://v:p2@db:5432/app", false},        // user
		{"postgres://u:p1@db:5432/app", "postgres://u:p2@db:5432/other", false},      // database
		{"postgres://u:p1@db/app?sslmode=require", "postgres://u:p2@db/app?sslmode=disable", false},
		{"host=db user=u password=p1", "host=db2 user=u password=p2", false},
		{"host=db user=u password=p1", "postgres://u:p2@db", false}, // other form: not compared
		{"host=db user=u password='p1", "host=db user=u password=p2", false},
		{"", "postgres://u:p2@db/app", false},
	} {
		if got := passwordOnlyChange(c.a, c.b); got != c.want {
			t.Errorf("passwordOnlyChange(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestPostgresDSNReloadRule: postgres.dsn from a file; a password-only
// change is applied on reload (logged without the value), a host change is
// refused with the restart message and the running DSN stays.
func TestPostgresDSNReloadRule(t *testing.T) {
	dir := t.TempDir()
	dsnFile := writeVaultFile(t, dir, "dsn", "postgres://avap:pw-One-5h@db:5432/avap\n")
	src := configSource{Env: []string{"AVAP_POSTGRES_DSN_FILE=" + dsnFile}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := newConfigHolder(res.Config, load, slog.New(slog.NewTextHandler(&logs, nil)))
	var seen string
	before := pgBeforeConnect(h)
	connect := func() string {
		cc, err := pgx.ParseConfig("postgres://avap:stale@db:5432/avap")
		if err != nil {
			t.Fatal(err)
		}
		if err := before(context.Background(), cc); err != nil {
			t.Fatal(err)
		}
		return cc.Password
	}
	if seen = connect(); seen != "pw-One-5h" {
		t.Fatalf("before reload: new connections use %q", seen)
	}

	writeVaultFile(t, dir, "dsn", "postgres://avap:pw-Two-8k@db:5432/avap\n")
	if err := h.Reload(); err != nil {
		t.Fatalf("password-only change refused: %v", err)
	}
	if seen = connect(); seen != "pw-Two-8k" {
		t.Errorf("after reload: new connections use %q, want the rotated password", seen)
	}
	if !strings.Contains(logs.String(), `msg="postgres password rotated" key=postgres.dsn`) {
		t.Errorf("no rotation line:\n%s", logs.String())
	}

	writeVaultFile(t, dir, "dsn", "postgres://avap:pw-Two-8k@db2:5432/avap\n")
	err = h.Reload()
	if !errors.Is(err, errReloadRefused) || !strings.Contains(err.Error(), "postgres.dsn (restart to change it)") {
		t.Errorf("host change: err = %v, want the restart refusal", err)
	}
	if got := h.Current().Postgres.DSN.Reveal(); got != "postgres://avap:pw-Two-8k@db:5432/avap" {
		t.Errorf("running DSN changed by a refused reload")
	}
	for _, v := range []string{"pw-One-5h", "pw-Two-8k"} {
		if strings.Contains(logs.String(), v) {
			t.Errorf("log shows password %q:\n%s", v, logs.String())
		}
	}
}

// TestPostgresPasswordRotationLive rotates the password of a real role:
// a pool from postgres.dsn (postgres.Open, as the audit sink and registry
// build theirs) keeps working after ALTER ROLE ... PASSWORD, the secret
// file update and a reload, on a NEW connection.
//
// pg_hba here may be trust auth for 127.0.0.1, where the server ignores
// the password: the test then also asserts that BeforeConnect set the
// rotated password on the new connection's config (what md5/scram would
// check). When a wrong password is refused, it checks that too.
func TestPostgresPasswordRotationLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const p1, p2 = "Rot-P1-x7Qe", "Rot-P2-m4Zt"
	r := newLoginRole(t, ctx, "avap_rot_", p1)
	ac, role, dsnFor := r.admin, r.name, r.dsnFor
	// Does this server check passwords at all?
	checks := false
	if c, err := pgx.Connect(ctx, dsnFor("wrong-password")); err != nil {
		checks = true
	} else {
		c.Close(ctx)
		t.Log("pg_hba trusts this client: the password is not observable at the server; asserting the password BeforeConnect sets")
	}

	dir := t.TempDir()
	dsnFile := writeVaultFile(t, dir, "dsn", dsnFor(p1))
	src := configSource{Env: []string{"AVAP_POSTGRES_DSN_FILE=" + dsnFile}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	h := newConfigHolder(res.Config, load, slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, nil)))
	hook := pgBeforeConnect(h)
	var used atomic.Pointer[string] // password of the last new connection
	db, err := postgres.Open(ctx, postgres.Options{DSN: h.Current().Postgres.DSN.Reveal(), MinConns: 1, MaxConns: 2,
		BeforeConnect: func(ctx context.Context, cc *pgx.ConnConfig) error {
			err := hook(ctx, cc)
			pw := cc.Password
			used.Store(&pw)
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	whoami := func() (string, error) {
		var who string
		err := db.Pool().QueryRow(ctx, "SELECT current_user").Scan(&who)
		return who, err
	}
	if who, err := whoami(); err != nil || who != role {
		t.Fatalf("first connection: %q, %v", who, err)
	}
	if p := used.Load(); p == nil || *p != p1 {
		t.Fatalf("first connection did not use p1")
	}

	if _, err := ac.Exec(ctx, "ALTER ROLE "+role+" PASSWORD '"+p2+"'"); err != nil {
		t.Fatal(err)
	}
	// An open connection stays authenticated after ALTER ROLE.
	if who, err := whoami(); err != nil || who != role {
		t.Fatalf("open connection after ALTER ROLE: %q, %v", who, err)
	}
	if checks {
		if c, err := pgx.Connect(ctx, dsnFor(p1)); err == nil {
			c.Close(ctx)
			t.Fatal("the server still accepts the old password")
		}
	}
	writeVaultFile(t, dir, "dsn", dsnFor(p2))
	if err := h.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	db.Pool().Reset() // every connection from now on is new
	if who, err := whoami(); err != nil || who != role {
		t.Fatalf("new connection after rotation: %q, %v", who, err)
	}
	if p := used.Load(); p == nil || *p != p2 {
		t.Errorf("new connection after rotation did not use the rotated password")
	}
	out := logs.String()
	if !strings.Contains(out, "postgres password rotated") {
		t.Errorf("no rotation line:\n%s", out)
	}
	if strings.Contains(out, p1) || strings.Contains(out, p2) {
		t.Errorf("log shows a password:\n%s", out)
	}
}

// loginRole is a throwaway PostgreSQL login role for rotation tests: the
// admin connection (to ALTER it), its name, and the DSN of the role with a
// given password. The role is dropped (its sessions ended) at cleanup. It
// skips the test when AVAP_TEST_POSTGRES_DSN is unset or unreachable.
type loginRole struct {
	admin  *pgx.Conn
	name   string
	dsnFor func(password string) string
}

func newLoginRole(t *testing.T, ctx context.Context, prefix, password string) loginRole {
	t.Helper()
	admin := os.Getenv("AVAP_TEST_POSTGRES_DSN")
	if admin == "" {
		t.Skip("AVAP_TEST_POSTGRES_DSN not set")
	}
	ac, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Skipf("postgres not reachable: %v", err)
	}
	t.Cleanup(func() { ac.Close(context.Background()) }) // after the role is dropped (cleanups run last first)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := prefix + hex.EncodeToString(b)
	if _, err := ac.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = ac.Exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		if _, err := ac.Exec(c, "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	return loginRole{admin: ac, name: role, dsnFor: func(pw string) string {
		v := *u
		v.User = url.UserPassword(role, pw)
		return v.String()
	}}
}
