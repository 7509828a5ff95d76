package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/vm"
)

// connectorFixture loads a config with connector "main" reading dsnFile
// and returns the holder, the host options with the reload hooks set, and
// the log.
func connectorFixture(t *testing.T, dsnFile string) (*configHolder, executor.HostOptions, func() string) {
	t.Helper()
	cfgFile := writeVaultFile(t, filepath.Dir(dsnFile), "avap.yaml",
		"executor:\n  connectors:\n    main:\n      dsn_file: "+dsnFile+"\n")
	load := func() (*loadResult, error) { return loadConfig(configSource{File: cfgFile}) }
	res, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, nil))
	h := newConfigHolder(res.Config, load, log)
	o, err := res.Config.hostOptions()
	if err != nil {
		t.Fatal(err)
	}
	watchConnectorDSNs(h, log, &o)
	return h, o, func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
}

// TestConnectorDSNReload: a reload reads the connector's dsn_file again; a
// password-only change reaches new connections, a host change does not
// (warning, running DSN kept); no value is logged.
func TestConnectorDSNReload(t *testing.T) {
	dir := t.TempDir()
	dsnFile := writeVaultFile(t, dir, "main.dsn", "postgres://app:conn-Pw1-a8@db:5432/app\n")
	h, o, logText := connectorFixture(t, dsnFile)
	password := func() string {
		t.Helper()
		cc, err := pgx.ParseConfig(o.Connectors["main"].DSN)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Connectors["main"].BeforeConnect(context.Background(), cc); err != nil {
			t.Fatal(err)
		}
		return cc.Password
	}
	if p := password(); p != "conn-Pw1-a8" {
		t.Fatalf("before reload: %q", p)
	}
	writeVaultFile(t, dir, "main.dsn", "postgres://app:conn-Pw2-b9@db:5432/app\n")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if p := password(); p != "conn-Pw2-b9" {
		t.Errorf("after a password-only change, new connections use the old password (%v)", p == "conn-Pw1-a8")
	}
	if !strings.Contains(logText(), `msg="postgres password rotated" connector=main`) {
		t.Errorf("no rotation line:\n%s", logText())
	}
	writeVaultFile(t, dir, "main.dsn", "postgres://app:conn-Pw3-c7@otherdb:5432/app\n")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if p := password(); p != "conn-Pw2-b9" {
		t.Errorf("a host change was half applied: new connections use another password")
	}
	if !strings.Contains(logText(), `connector DSN changed other than the password: it needs a restart`) {
		t.Errorf("no restart warning:\n%s", logText())
	}
	os.Remove(dsnFile)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if p := password(); p != "conn-Pw2-b9" || !strings.Contains(logText(), "connector DSN not read again on reload") {
		t.Errorf("unreadable file: password kept %v\n%s", p == "conn-Pw2-b9", logText())
	}
	for _, v := range []string{"conn-Pw1-a8", "conn-Pw2-b9", "conn-Pw3-c7"} {
		if strings.Contains(logText(), v) {
			t.Errorf("log shows %q", v)
		}
	}
}

// TestConnectorPasswordRotationLive: a script's connector keeps working
// across ALTER ROLE ... PASSWORD, the dsn_file update and a reload, on a
// new connection. pg_hba may trust 127.0.0.1 here (the password is then
// not checked by the server): the test also asserts the password the new
// connection was configured with.
func TestConnectorPasswordRotationLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const p1, p2 = "Conn-P1-q5Rw", "Conn-P2-t8Ys"
	r := newLoginRole(t, ctx, "avap_conn_rot_", p1)
	ac, role, dsnFor := r.admin, r.name, r.dsnFor
	dir := t.TempDir()
	dsnFile := writeVaultFile(t, dir, "main.dsn", dsnFor(p1))
	h, o, logText := connectorFixture(t, dsnFile)
	var used atomic.Pointer[string]
	c := o.Connectors["main"]
	hook := c.BeforeConnect
	c.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		err := hook(ctx, cc)
		pw := cc.Password
		used.Store(&pw)
		return err
	}
	o.Connectors["main"] = c
	host, err := executor.NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	whoami := func() string {
		t.Helper()
		v, err := host.Call(ctx, "ormDirect", []vm.Value{vm.String("SELECT current_user AS who")})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(v)
		return string(j)
	}
	want := `[{"who":"` + role + `"}]`
	if got := whoami(); got != want || *used.Load() != p1 {
		t.Fatalf("first query: %s", got)
	}
	if _, err := ac.Exec(ctx, "ALTER ROLE "+role+" PASSWORD '"+p2+"'"); err != nil {
		t.Fatal(err)
	}
	writeVaultFile(t, dir, "main.dsn", dsnFor(p2))
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	// Close the connector's open connection: the pool pings a connection
	// idle over a second before handing it out, finds it gone and dials anew.
	if _, err := ac.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := whoami(); got != want {
		t.Fatalf("query after rotation: %s\n%s", got, logText())
	}
	if p := used.Load(); *p != p2 {
		t.Errorf("the new connection was not configured with the rotated password")
	}
	if out := logText(); strings.Contains(out, p1) || strings.Contains(out, p2) || !strings.Contains(out, "postgres password rotated") {
		t.Errorf("log:\n%s", out)
	}
}
