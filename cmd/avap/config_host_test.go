package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigHost(t *testing.T) {
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsnFile, []byte("postgres://u@127.0.0.1/db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(good, []byte(`http:
  project_prefix: /apis
executor:
  egress:
    allow: ["api.example.com", "*.example.org", "10.1.0.0/16"]
    timeout: 5s
  connectors:
    main:
      dsn_file: `+dsnFile+`
      statement_timeout: 2s
    reports:
      dsn_env: REPORTS_DSN
      read_only: true
  default_connector: main
`), 0o600)
	// The environment adds a third connector and overrides a field of one
	// from the file.
	res, err := loadConfig(configSource{File: good, Env: []string{"REPORTS_DSN=postgres://r@127.0.0.1/db",
		"AVAP_EXECUTOR_CONNECTORS_AUDIT_LOG_DSN_ENV=REPORTS_DSN", "AVAP_EXECUTOR_CONNECTORS_AUDIT_LOG_MAX_CONNS=3",
		"AVAP_EXECUTOR_CONNECTORS_MAIN_STATEMENT_TIMEOUT=2s"}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	t.Setenv("REPORTS_DSN", "postgres://r@127.0.0.1/db")
	o, err := c.hostOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.Connectors["main"].DSN != "postgres://u@127.0.0.1/db" || !o.Connectors["reports"].ReadOnly ||
		o.Connectors["main"].StatementTimeout != 2*time.Second || o.Egress.Timeout != 5*time.Second || c.HTTP.ProjectPrefix != "/apis" {
		t.Errorf("options = %+v", o)
	}
	if k := o.Connectors["audit_log"]; len(o.Connectors) != 3 || k.MaxConns != 3 || k.DSN != "postgres://r@127.0.0.1/db" {
		t.Errorf("connector from the environment: %+v", o.Connectors)
	}
	if got := res.Origin["executor.connectors.audit_log.max_conns"]; got != "env AVAP_EXECUTOR_CONNECTORS_AUDIT_LOG_MAX_CONNS" {
		t.Errorf("origin = %q", got)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	h, err := newHost(c, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()

	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte(`http:
  project_prefix: /api/x
executor:
  egress:
    allow: ["0.0.0.0/0", "bad host"]
  connectors:
    a:
      dsn_file: /x
      dsn_env: Y
      max_conns: -1
    b:
      read_only: true
      dsn_fil: /typo
    c.d:
      dsn_env: Z
  default_connector: nope
`), 0o600)
	_, err = loadConfig(configSource{File: bad, Env: []string{"AVAP_EXECUTOR_CONNECTORS_E_STATEMENT_TIMEOUT=-1s"}})
	for _, want := range []string{"http.project_prefix", "every address", "bad host",
		"file " + bad + ": executor.connectors.a.dsn_file: set exactly one of dsn_file and dsn_env",
		"executor.connectors.a.max_conns: must not be negative",
		"unknown key executor.connectors.b.dsn_fil (an entry of executor.connectors takes dsn_file, dsn_env",
		"env AVAP_EXECUTOR_CONNECTORS_E_STATEMENT_TIMEOUT: executor.connectors.e.statement_timeout: must not be negative",
		"no connector named"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad config: want %q in %v", want, err)
		}
	}
}

// TestConfigConnectorsList: the old list shape is refused with a clear error.
func TestConfigConnectorsList(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	_ = os.WriteFile(f, []byte("executor:\n  connectors:\n    - name: main\n      dsn_env: X\n"), 0o600)
	_, err := loadConfig(configSource{File: f})
	if err == nil || !strings.Contains(err.Error(), "executor.connectors: must be a map keyed by name") {
		t.Fatalf("list of connectors accepted: %v", err)
	}
	t.Log(err)
}
