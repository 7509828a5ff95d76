package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, src configSource) *Config {
	t.Helper()
	res, err := loadConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	return res.Config
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c := load(t, configSource{})
	if c.HTTP.Addr != "127.0.0.1:8080" || c.Log.Level != "info" || !c.NATS.InProcess || !c.NATS.JetStream.Enabled {
		t.Errorf("unexpected defaults: addr=%s level=%s", c.HTTP.Addr, c.Log.Level)
	}
	if c.NATS.Listen != "" {
		t.Errorf("serve must not listen on TCP by default, nats.listen=%q", c.NATS.Listen)
	}
}

// TestPrecedence: defaults < file < env < flags, key by key.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.yaml", `
http:
  addr: 127.0.0.1:1001
  grace: 7s
log:
  level: warn
  format: json
data_dir: /from/file
`)
	env := []string{"AVAP_HTTP_ADDR=127.0.0.1:1002", "AVAP_LOG_LEVEL=error", "PATH=/bin"}
	flags := map[string]string{"http.addr": "127.0.0.1:1003"}

	c := load(t, configSource{File: file, Env: env, Flags: flags})
	for _, x := range []struct{ got, want, why string }{
		{c.HTTP.Addr, "127.0.0.1:1003", "flag beats env and file"},
		{c.Log.Level, "error", "env beats file"},
		{c.Log.Format, "json", "file beats default"},
		{c.DataDir, "/from/file", "file beats default"},
		{c.HTTP.WriteTimeout.String(), "30s", "default"},
		{c.HTTP.Grace.String(), "7s", "file"},
	} {
		if x.got != x.want {
			t.Errorf("%s: got %q, want %q", x.why, x.got, x.want)
		}
	}
	c = load(t, configSource{File: file, Env: env})
	if c.HTTP.Addr != "127.0.0.1:1002" {
		t.Errorf("env beats file: %s", c.HTTP.Addr)
	}
	c = load(t, configSource{File: file})
	if c.HTTP.Addr != "127.0.0.1:1001" {
		t.Errorf("file beats default: %s", c.HTTP.Addr)
	}
}

func TestEnvTypesAndLists(t *testing.T) {
	c := load(t, configSource{Env: []string{
		"AVAP_DATA_DIR=/tmp/x",
		"AVAP_HTTP_BODY_LIMIT=1MiB",
		"AVAP_HTTP_ACCESS_LOG=false",
		"AVAP_EXECUTOR_WORKERS=3",
		"AVAP_EXECUTOR_LIMITS_TIMEOUT=250ms",
		"AVAP_NATS_CLUSTER_NAME=c",
		"AVAP_NATS_CLUSTER_LISTEN=127.0.0.1:6222",
		"AVAP_NATS_CLUSTER_ROUTES=nats-route://a:6222, nats-route://b:6222",
		"AVAP_POSTGRES_DSN=postgres://u:pw@db/x",
	}})
	if c.DataDir != "/tmp/x" || c.HTTP.BodyLimit != 1<<20 || c.HTTP.AccessLog || c.Executor.Workers != 3 ||
		c.Executor.Limits.Timeout != 250*time.Millisecond {
		t.Errorf("env values not applied: %+v", c.HTTP)
	}
	if got := strings.Join(c.NATS.Cluster.Routes, "|"); got != "nats-route://a:6222|nats-route://b:6222" {
		t.Errorf("routes = %q", got)
	}
	if c.Postgres.DSN.Reveal() != "postgres://u:pw@db/x" {
		t.Error("dsn from env not applied")
	}
}

func TestUnknownEnvIsWarning(t *testing.T) {
	res, err := loadConfig(configSource{Env: []string{"AVAP_HTTP_ADR=x", "AVAP_TEST_POSTGRES_DSN=y"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "AVAP_HTTP_ADR") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no good files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			load(t, configSource{File: f})
		})
	}
	c := load(t, configSource{File: "testdata/config/full.good.yaml"})
	if c.HTTP.BodyLimit != 8<<20 || c.NATS.JetStream.MaxStore != 10<<30 || len(c.NATS.Cluster.Routes) != 2 ||
		c.Registry.CacheTTL != 10*time.Minute || c.HTTP.RateLimit.RPS != 100 {
		t.Errorf("full.good.yaml not fully applied")
	}
}

// expectedErrors lists, per bad file, text every reported problem list must
// contain, and how many problems there are: every problem, at once.
var expectedErrors = []struct {
	file     string
	problems int
	want     []string
}{
	{"unknown.bad.yaml", 5, []string{
		"unknown key htp.addr (did you mean http.addr?)",
		"unknown key http.adr (did you mean http.addr?)",
		"http.rate_limit is a section, not a value",
		"unknown key log.levle (did you mean log.level?)",
		"postgres.dsn is a secret and may not be set in the config file",
	}},
	{"values.bad.yaml", 20, []string{
		"data_dir: must not be empty",
		"node.id:",
		`http.addr: "localhost" is not host:port`,
		"http.read_timeout: duration 5 needs a unit",
		`http.write_timeout: invalid duration "soon"`,
		"http.idle_timeout: must be positive",
		`http.body_limit: invalid size "4 parsecs"`,
		"http.shutdown_delay: must not be negative",
		"http.grace: must be positive",
		`log.level: "loud"`,
		`log.format: "xml"`,
		`nats.url: "http://example.com": scheme "http"`,
		`nats.listen: ":99999": invalid port`,
		"nats.max_payload: must be between",
		"nats.cluster.name: required",
		`nats.cluster.routes: "not a url"`,
		"executor.workers: must not be negative",
		"executor.queue_size:",
		"executor.limits.steps: must be positive",
		"executor.limits.timeout: exceeds executor.max_limits.timeout",
	}},
}

func TestBadFiles(t *testing.T) {
	for _, tc := range expectedErrors {
		t.Run(tc.file, func(t *testing.T) {
			_, err := loadConfig(configSource{File: filepath.Join("testdata/config", tc.file)})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if len(ce.Problems) != tc.problems {
				t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), tc.problems, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("error leaks the secret")
			}
		})
	}
	files, _ := filepath.Glob("testdata/config/*.bad.yaml")
	if len(files) != len(expectedErrors) {
		t.Errorf("%d bad files, %d in expectedErrors", len(files), len(expectedErrors))
	}
}

func TestSecretFile(t *testing.T) {
	f := writeFile(t, "dsn", "postgres://u:pw@db/x\n")
	c := load(t, configSource{Env: []string{"AVAP_POSTGRES_DSN_FILE=" + f}})
	if c.Postgres.DSN.Reveal() != "postgres://u:pw@db/x" {
		t.Errorf("dsn = %q", c.Postgres.DSN.Reveal())
	}
	_, err := loadConfig(configSource{Env: []string{"AVAP_POSTGRES_DSN_FILE=" + f, "AVAP_POSTGRES_DSN=postgres://a@b/c"}})
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("err = %v", err)
	}
	_, err = loadConfig(configSource{Env: []string{"AVAP_POSTGRES_DSN_FILE=/nonexistent/dsn"}})
	if err == nil || !strings.Contains(err.Error(), "postgres.dsn_file") {
		t.Errorf("err = %v", err)
	}
	// Secrets never print.
	s := Secret("pw")
	for _, got := range []string{s.String(), s.GoString(), formatValue(reflectValue(s))} {
		if strings.Contains(got, "pw") {
			t.Errorf("secret printed: %q", got)
		}
	}
	if d := digestValues(c)["postgres.dsn"]; d != redacted {
		t.Errorf("digest dsn = %q", d)
	}
}

func TestEnvNamesUnique(t *testing.T) {
	seen := map[string]string{}
	for _, k := range configKeys() {
		if other, ok := seen[k.Env]; ok {
			t.Errorf("%s and %s share %s", k.Key, other, k.Env)
		}
		seen[k.Env] = k.Key
		if k.Help == "" {
			t.Errorf("%s has no help tag", k.Key)
		}
	}
	for _, f := range configFlags() {
		if _, ok := seen[envPrefix+strings.ToUpper(strings.ReplaceAll(f.key, ".", "_"))]; !ok {
			t.Errorf("flag --%s names unknown key %s", f.flag, f.key)
		}
	}
}

// TestREADMEConfigReference keeps the README's config table complete.
func TestREADMEConfigReference(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, k := range configKeys() {
		if !strings.Contains(readme, "`"+k.Key+"`") || !strings.Contains(readme, "`"+k.Env+"`") {
			t.Errorf("README config reference lacks %s / %s", k.Key, k.Env)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "512": 512, "4MiB": 4 << 20, "4 mib": 4 << 20, "10MB": 10e6, "1GiB": 1 << 30, "64k": 64 << 10} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("%q -> %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "x", "4XB", "-1", "99999999999999999999"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func reflectValue(x any) reflect.Value { return reflect.ValueOf(x) }
