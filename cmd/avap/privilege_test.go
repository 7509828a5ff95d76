package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRootPolicy(t *testing.T) {
	type tc struct {
		name   string
		euid   int
		role   string
		set    func(c *Config)
		refuse string // substring of the error; "" = allowed
		warn   bool
	}
	cases := []tc{
		{name: "unprivileged any address", euid: 1000, role: roleServe, set: func(c *Config) { c.HTTP.Addr = "0.0.0.0:8080"; c.NATS.Listen = ":4222" }},
		{name: "quick start defaults", euid: 0, role: roleServe, warn: true},
		{name: "serve http all interfaces", euid: 0, role: roleServe, set: func(c *Config) { c.HTTP.Addr = "0.0.0.0:8080" }, refuse: "http.addr=0.0.0.0:8080"},
		{name: "serve http empty host", euid: 0, role: roleServe, set: func(c *Config) { c.HTTP.Addr = ":8080" }, refuse: "http.addr=:8080"},
		{name: "serve nats listen public", euid: 0, role: roleServe, set: func(c *Config) { c.NATS.Listen = "0.0.0.0:4222" }, refuse: "nats.listen=0.0.0.0:4222"},
		{name: "serve nats listen loopback", euid: 0, role: roleServe, set: func(c *Config) { c.NATS.Listen = "127.0.0.1:4222" }, warn: true},
		{name: "serve cluster public", euid: 0, role: roleServe, set: func(c *Config) { c.NATS.Cluster.Listen = "10.0.0.5:6222" }, refuse: "nats.cluster.listen=10.0.0.5:6222"},
		{name: "nats role defaults", euid: 0, role: roleNATS, warn: true},
		{name: "nats role public listen", euid: 0, role: roleNATS, set: func(c *Config) { c.NATS.Listen = ":4222" }, refuse: "nats.listen=:4222"},
		{name: "nats role cluster public", euid: 0, role: roleNATS, set: func(c *Config) { c.NATS.Cluster.Listen = "0.0.0.0:6222" }, refuse: "nats.cluster.listen"},
		{name: "edge ipv6 loopback", euid: 0, role: roleEdge, set: func(c *Config) { c.HTTP.Addr = "[::1]:8080" }, warn: true},
		{name: "edge localhost", euid: 0, role: roleEdge, set: func(c *Config) { c.HTTP.Addr = "localhost:8080" }, warn: true},
		{name: "edge 127/8", euid: 0, role: roleEdge, set: func(c *Config) { c.HTTP.Addr = "127.1.2.3:8080" }, warn: true},
		{name: "edge v4-mapped loopback", euid: 0, role: roleEdge, set: func(c *Config) { c.HTTP.Addr = "[::ffff:127.0.0.1]:8080" }, warn: true},
		{name: "edge ipv6 any", euid: 0, role: roleEdge, set: func(c *Config) { c.HTTP.Addr = "[::]:8080" }, refuse: "http.addr"},
		{name: "edge host name", euid: 0, role: roleEdge, set: func(c *Config) { c.HTTP.Addr = "edge.internal:8080" }, refuse: "http.addr"},
		// edge/executor/registry open no NATS listener: nats.listen does not count.
		{name: "edge ignores nats.listen", euid: 0, role: roleEdge, set: func(c *Config) { c.NATS.Listen = "0.0.0.0:4222" }, warn: true},
		{name: "executor probes public", euid: 0, role: roleExecutor, set: func(c *Config) { c.HTTP.Addr = "0.0.0.0:9090" }, refuse: "http.addr"},
		{name: "registry probes public", euid: 0, role: roleRegistry, set: func(c *Config) { c.HTTP.Addr = "0.0.0.0:9090" }, refuse: "run registry as root"},
		{name: "allowed explicitly", euid: 0, role: roleServe, set: func(c *Config) {
			c.AllowRoot = true
			c.HTTP.Addr = "0.0.0.0:8080"
			c.NATS.Listen = "0.0.0.0:4222"
		}, warn: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultConfig()
			if c.set != nil {
				c.set(cfg)
			}
			warn, err := rootPolicy(c.euid, c.role, cfg)
			switch {
			case c.refuse != "":
				if err == nil {
					t.Fatalf("allowed, want refusal mentioning %q", c.refuse)
				}
				msg := err.Error()
				for _, want := range []string{c.refuse, "--allow-root", "AVAP_ALLOW_ROOT=true", "unprivileged user"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q lacks %q", msg, want)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error is not one line: %q", msg)
				}
			case err != nil:
				t.Fatalf("refused: %v", err)
			}
			if got := warn != ""; got != c.warn {
				t.Errorf("warning %q, want warning=%v", warn, c.warn)
			}
		})
	}
}

// runCLIAs runs the command line as if the effective user id were euid.
func runCLIAs(t *testing.T, euid int, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{start: time.Now(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		environ: func() []string { return env }, geteuid: func() int { return euid }}
	code := a.main(t.Context(), args)
	return code, out.String(), errb.String()
}

func TestRootRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	for _, role := range []string{roleServe, roleEdge, roleExecutor, roleRegistry, roleNATS} {
		code, _, stderr := runCLIAs(t, 0, []string{"AVAP_DATA_DIR=" + dir}, role, "--http-addr", "0.0.0.0:0")
		if code != exitError {
			t.Errorf("%s as root on 0.0.0.0: exit %d, want %d (stderr %q)", role, code, exitError, stderr)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, "refusing to run "+role+" as root") ||
			!strings.Contains(stderr, "--allow-root") {
			t.Errorf("%s: stderr %q, want one line refusing root and naming --allow-root", role, stderr)
		}
	}
}

func TestAllowRootSources(t *testing.T) {
	for name, run := range map[string]func() (int, string, string){
		"flag": func() (int, string, string) {
			return runCLIAs(t, 0, nil, "edge", "--http-addr", "0.0.0.0:0", "--allow-root", "--check-config")
		},
		"env": func() (int, string, string) {
			return runCLIAs(t, 0, []string{"AVAP_ALLOW_ROOT=true"}, "edge", "--http-addr", "0.0.0.0:0", "--check-config")
		},
	} {
		code, out, stderr := run()
		if code != exitOK || !strings.Contains(out, "allow_root = true") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want allow_root = true in the digest", name, code, out, stderr)
		}
	}
	code, out, _ := runCLIAs(t, 0, nil, "edge", "--check-config")
	if code != exitOK || strings.Contains(out, "allow_root = true") {
		t.Errorf("default: exit %d, digest %q; want allow_root false", code, out)
	}
}
