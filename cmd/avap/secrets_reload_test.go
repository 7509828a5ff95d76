package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/executor"
)

// TestSecretRotationOnReload runs a whole serve node in-process with
// debug.admin_token and jobs.callback_secret from (a fake of) Vault,
// rotates both in Vault and sends SIGHUP: from then on /debug/vars takes
// the new admin token and refuses the old one, and job callbacks are
// signed with the new key only. Neither value shows up in the log.
func TestSecretRotationOnReload(t *testing.T) {
	const adm1, adm2 = "admin-token-first-0123456789", "admin-token-rotated-9876543210"
	const cb1, cb2 = "callback-key-first-Q1w2e3", "callback-key-rotated-Z9x8c7"
	f, vsrv := newFakeVault(t)
	f.tokens["tok"] = true
	f.set("avap/app", "admin", adm1)
	f.set("avap/app", "callback", cb1)

	type signed struct{ old, new bool }
	got := make(chan signed, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get(executor.HeaderCallbackTimestamp), r.Header.Get(executor.HeaderCallbackSignature)
		got <- signed{
			old: executor.VerifyCallback([]byte(cb1), ts, sig, body, time.Minute, time.Now()) == nil,
			new: executor.VerifyCallback([]byte(cb2), ts, sig, body, time.Minute, time.Now()) == nil,
		}
	}))
	defer recv.Close()

	dir := t.TempDir()
	addr := freeAddr(t)
	cfgFile := writeVaultFile(t, dir, "avap.yaml", "debug:\n  admin_token_vault: avap/app#admin\n"+
		"jobs:\n  callback_secret_vault: avap/app#callback\n  callback_allow: [127.0.0.1]\n")
	src := configSource{File: cfgFile, Env: []string{"AVAP_VAULT_ADDRESS=" + vsrv.URL, "AVAP_VAULT_TOKEN=tok",
		"AVAP_DATA_DIR=" + filepath.Join(dir, "data"), "AVAP_HTTP_ADDR=" + addr, "AVAP_LOG_LEVEL=debug"}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logText := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	h := newConfigHolder(res.Config, load, log.With("component", "config"))
	n, err := newNode(roleServe, h, processLoggers{Log: log}, readBuildInfo(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.run(ctx, sigs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	base := "http://" + addr
	if !waitHealthy(base+"/healthz", 20*time.Second) {
		t.Fatalf("serve not healthy:\n%s", logText())
	}

	admin := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/debug/vars", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	job := func() signed {
		t.Helper()
		resp, err := http.Post(base+"/api/v1/jobs", "application/json",
			strings.NewReader(`{"script":"addVar(x, 1)\naddResult(x)","callback_url":"`+recv.URL+`/hook"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("submit: %d %s", resp.StatusCode, b)
		}
		select {
		case s := <-got:
			return s
		case <-time.After(15 * time.Second):
			t.Fatalf("no callback\n%s", logText())
			return signed{}
		}
	}

	if a1, a2 := admin(adm1), admin(adm2); a1 != 200 || a2 != 401 {
		t.Fatalf("before rotation: admin token 1 -> %d, 2 -> %d; want 200, 401", a1, a2)
	}
	if s := job(); !s.old || s.new {
		t.Fatalf("before rotation: callback verifies with key 1 %v, key 2 %v; want key 1 only", s.old, s.new)
	}

	f.set("avap/app", "admin", adm2)
	f.set("avap/app", "callback", cb2)
	sigs <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for h.lastTime.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !h.lastOK.Load() {
		t.Fatalf("reload failed:\n%s", logText())
	}
	if a1, a2 := admin(adm1), admin(adm2); a1 != 401 || a2 != 200 {
		t.Errorf("after rotation: admin token 1 -> %d, 2 -> %d; want 401, 200", a1, a2)
	}
	if s := job(); s.old || !s.new {
		t.Errorf("after rotation: callback verifies with key 1 %v, key 2 %v; want key 2 only", s.old, s.new)
	}

	out := logText()
	if !strings.Contains(out, "changed=jobs.callback_secret,debug.admin_token") {
		t.Errorf("reload line does not name the rotated secrets:\n%s", out)
	}
	for _, v := range []string{adm1, adm2, cb1, cb2} {
		if strings.Contains(out, v) {
			t.Errorf("log shows secret value %q", v)
		}
	}
}

// TestSecretsRedactedInDigest: the values a reload may rotate never reach
// the config digest (--check-config, backups).
func TestSecretsRedactedInDigest(t *testing.T) {
	c := defaultConfig()
	c.Debug.AdminToken = "digest-admin-token-0123456789"
	c.Jobs.CallbackSecret = "digest-callback-key"
	c.Postgres.DSN = "postgres://u:digest-pg-pw@db/app"
	c.Sentry.DSN = "https://digest-key@sentry.example/1"
	d := digestValues(c)
	for _, k := range []string{"debug.admin_token", "jobs.callback_secret", "postgres.dsn", "sentry.dsn"} {
		if d[k] != redacted {
			t.Errorf("digest %s = %q, want %s", k, d[k], redacted)
		}
	}
	for k, v := range d {
		if strings.Contains(v, "digest-") {
			t.Errorf("digest %s shows a secret", k)
		}
	}
}

// TestAdminTokenFileRotation: debug.admin_token from a file (a mounted
// Kubernetes Secret); the file is rotated and a reload makes the edge of
// any role take the new token and refuse the old one.
func TestAdminTokenFileRotation(t *testing.T) {
	const tok1, tok2 = "file-admin-token-AAAA1111", "file-admin-token-BBBB2222"
	dir := t.TempDir()
	tokFile := writeVaultFile(t, dir, "admin-token", tok1+"\n")
	src := configSource{Env: []string{"AVAP_DEBUG_ADMIN_TOKEN_FILE=" + tokFile, "AVAP_HTTP_ADDR=127.0.0.1:0"}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := newConfigHolder(res.Config, load, log)
	c, err := newHealthServer(wiring{Log: log, Config: h})
	if err != nil {
		t.Fatal(err)
	}
	app := c.(interface{ App() *fiber.App }).App()
	status := func(tok string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/debug/vars", nil) // RemoteAddr 192.0.2.1: not loopback
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := status(tok1), status(tok2); a != 200 || b != 401 {
		t.Fatalf("before rotation: %d %d", a, b)
	}
	writeVaultFile(t, dir, "admin-token", tok2+"\n")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if a, b := status(tok1), status(tok2); a != 401 || b != 200 {
		t.Errorf("after rotation: old token %d, new token %d; want 401, 200", a, b)
	}
	if strings.Contains(logs.String(), tok1) || strings.Contains(logs.String(), tok2) {
		t.Errorf("log shows the token:\n%s", logs.String())
	}
	// Both sources at once is an error naming the keys.
	src.Env = append(src.Env, "AVAP_DEBUG_ADMIN_TOKEN="+tok1)
	if _, err := load(); err == nil || !strings.Contains(err.Error(), "debug.admin_token_file: debug.admin_token is set too") {
		t.Errorf("token and token file: %v", err)
	}
}

// TestCallbackSecretFile: jobs.callback_secret from a file, re-read and
// applied by a reload; an empty file is an error naming the key.
func TestCallbackSecretFile(t *testing.T) {
	dir := t.TempDir()
	f := writeVaultFile(t, dir, "cb", "cb-file-key-1\n")
	src := configSource{Env: []string{"AVAP_JOBS_CALLBACK_SECRET_FILE=" + f}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil || res.Config.Jobs.CallbackSecret.Reveal() != "cb-file-key-1" {
		t.Fatalf("load: %v", err)
	}
	h := newConfigHolder(res.Config, load, slog.New(slog.DiscardHandler))
	var pushed string
	h.OnReload(func(_, cur *Config) { pushed = cur.Jobs.CallbackSecret.Reveal() })
	writeVaultFile(t, dir, "cb", "cb-file-key-2\n")
	if err := h.Reload(); err != nil || pushed != "cb-file-key-2" || h.Current().Jobs.CallbackSecret.Reveal() != "cb-file-key-2" {
		t.Errorf("reload: %v, hook saw the rotated key %v", err, pushed == "cb-file-key-2")
	}
	writeVaultFile(t, dir, "cb", "\n")
	if _, err := load(); err == nil || !strings.Contains(err.Error(), "jobs.callback_secret_file: "+f+" is empty") {
		t.Errorf("empty file: %v", err)
	}
}

// TestSentryDSNFile: sentry.dsn from a file; the environment and the file
// together are refused; a changed file is a restart-only change (the
// Sentry client is set up once), so the reload keeps the running config.
func TestSentryDSNFile(t *testing.T) {
	dir := t.TempDir()
	f := writeVaultFile(t, dir, "sentry", "https://k1@sentry.example/1\n")
	src := configSource{Env: []string{"AVAP_SENTRY_DSN_FILE=" + f}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil || res.Config.Sentry.DSN.Reveal() != "https://k1@sentry.example/1" {
		t.Fatalf("load: %v", err)
	}
	both := configSource{Env: []string{"AVAP_SENTRY_DSN_FILE=" + f, "AVAP_SENTRY_DSN=https://k0@sentry.example/1"}}
	if _, err := loadConfig(both); err == nil || !strings.Contains(err.Error(), "sentry.dsn_file: sentry.dsn is set too") {
		t.Errorf("env and file: %v", err)
	}
	var logs bytes.Buffer
	h := newConfigHolder(res.Config, load, slog.New(slog.NewTextHandler(&logs, nil)))
	writeVaultFile(t, dir, "sentry", "https://k2@sentry.example/1\n")
	_ = h.Reload()
	if got := h.Current().Sentry.DSN.Reveal(); got != "https://k1@sentry.example/1" {
		t.Errorf("running DSN after a reload = %q, want the one the client was set up with", got)
	}
	if strings.Contains(logs.String(), "k2@") || strings.Contains(logs.String(), "k1@") {
		t.Errorf("the DSN reached the log: %s", logs.String())
	}
}
