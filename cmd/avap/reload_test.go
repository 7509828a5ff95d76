package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// TestReloadAllowList: log.level changes apply; http.addr is refused and
// the old config stays; an invalid file keeps the old config too.
func TestReloadAllowList(t *testing.T) {
	file := writeFile(t, "c.yaml", "log:\n  level: info\nhttp:\n  addr: 127.0.0.1:1001\n")
	src := configSource{File: file}
	first := load(t, src)
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, nil))
	h := newConfigHolder(first, func() (*loadResult, error) { return loadConfig(src) }, log)
	lv := new(slog.LevelVar)
	var hookCalls int
	h.OnReload(func(old, cur *Config) {
		hookCalls++
		l, _ := parseLevel(cur.Log.Level)
		lv.Set(l)
	})

	rewrite := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	rewrite("log:\n  level: debug\nhttp:\n  addr: 127.0.0.1:1001\n")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if h.Current().Log.Level != "debug" || lv.Level() != slog.LevelDebug || hookCalls != 1 {
		t.Fatalf("level not applied: %s %v %d", h.Current().Log.Level, lv.Level(), hookCalls)
	}
	if !strings.Contains(logs.String(), `msg="config reloaded" changed=log.level`) {
		t.Errorf("no reload log line:\n%s", logs.String())
	}

	rewrite("log:\n  level: warn\nhttp:\n  addr: 127.0.0.1:2002\n")
	err := h.Reload()
	if !errors.Is(err, errReloadRefused) || !strings.Contains(err.Error(), "http.addr") {
		t.Fatalf("err = %v, want refusal naming http.addr", err)
	}
	if c := h.Current(); c != nil && (c.HTTP.Addr != "127.0.0.1:1001" || c.Log.Level != "debug") {
		t.Errorf("old config not kept: %s %s", c.HTTP.Addr, c.Log.Level)
	}
	if hookCalls != 1 {
		t.Error("hooks ran for a refused reload")
	}
	if !strings.Contains(logs.String(), "config reload not supported for http.addr") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}

	rewrite("log:\n  level: loud\n")
	if err := h.Reload(); err == nil {
		t.Fatal("invalid file accepted")
	}
	if h.Current() != first && h.Current().Log.Level != "debug" {
		t.Error("old config not kept after invalid file")
	}
}

func TestDiffConfig(t *testing.T) {
	a, b := defaultConfig(), defaultConfig()
	b.Executor.Limits.Steps = 5
	b.Registry.CacheTTL = 1
	b.HTTP.RateLimit.Burst = 3
	b.NATS.Cluster.Routes = []string{"nats-route://x:1"}
	b.Postgres.DSN = "x"
	got := map[string]bool{}
	for _, c := range diffConfig(a, b) {
		got[c.Key] = c.Reload
	}
	want := map[string]bool{
		"executor.limits.steps": true, "registry.cache_ttl": true, "http.rate_limit.burst": true,
		"nats.cluster.routes": false, "postgres.dsn": false,
	}
	if len(got) != len(want) {
		t.Errorf("changes = %v", got)
	}
	for k, r := range want {
		if g, ok := got[k]; !ok || g != r {
			t.Errorf("%s: reload=%v present=%v, want reload=%v", k, g, ok, r)
		}
	}
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
