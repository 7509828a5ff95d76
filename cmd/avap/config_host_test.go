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
    - name: main
      dsn_file: `+dsnFile+`
      statement_timeout: 2s
    - name: reports
      dsn_env: REPORTS_DSN
      read_only: true
  default_connector: main
`), 0o600)
	res, err := loadConfig(configSource{File: good, Env: []string{"REPORTS_DSN=postgres://r@127.0.0.1/db"}})
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
	h, err := newHost(c, nil, nil)
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
    - name: a
      dsn_file: /x
      dsn_env: Y
    - name: a
  default_connector: nope
`), 0o600)
	_, err = loadConfig(configSource{File: bad})
	for _, want := range []string{"http.project_prefix", "every address", "bad host", "exactly one of dsn_file and dsn_env", "defined twice", "no connector named"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad config: want %q in %v", want, err)
		}
	}
}
