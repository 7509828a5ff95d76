package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// pgSchema creates a schema of its own for the test (dropped after) and
// returns a DSN whose search_path is that schema. It skips without
// AVAP_TEST_POSTGRES_DSN.
func pgSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("AVAP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("AVAP_TEST_POSTGRES_DSN not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "avap_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	stmts := []string{
		"CREATE SCHEMA " + schema,
		`CREATE TABLE ` + schema + `.users (id serial PRIMARY KEY, name text NOT NULL, age int, score numeric,
			created timestamptz DEFAULT '2026-01-02T03:04:05Z', born date, data bytea, meta jsonb)`,
		`INSERT INTO ` + schema + `.users (name, age, score, born, data, meta) VALUES
			('Ann', 30, 12.5, '1996-05-04', '\x0102', '{"k": [1, "two"]}'),
			('Bob', 17, 7, NULL, NULL, NULL)`,
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("cleanup connect: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

func sqlHost(t *testing.T, dsn string) *Host {
	return newTestHost(t, HostOptions{
		Connectors: map[string]ConnectorOptions{
			"main": {DSN: dsn},
			"ro":   {DSN: dsn, ReadOnly: true},
			"slow": {DSN: dsn, StatementTimeout: 100 * time.Millisecond},
		},
		DefaultConnector: "main",
	})
}

func resultMap(t *testing.T, out string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return m
}

func TestSQLCommands(t *testing.T) {
	h := sqlHost(t, pgSchema(t))
	src := `n = "Cy"
a = 41
ormAccessInsert("name, age", "n,a", "users", ins)
ormAccessSelect("name, age", "users", adults, "age >= 18 AND NOT name IN ('Zed') ORDER BY name DESC LIMIT 5")
ormAccessSelect("*", "users", ann, {"name": "Ann"})
a = 42
ormAccessUpdate("age", "a", "users", upd, "name = 'Cy'")
ormAccessInsert("name", ["Dee"], "users", ins2)
chk = ormCheckTable("users", "")
ormCheckTable("nosuch", chk2)
cnt = ormDirect("SELECT count(*) AS n FROM users WHERE name <> ` + "`Bob`" + `", "")
ormDirect("UPDATE users SET age = age + 1 WHERE name = 'Dee'", direct)
ormDirect("SELECT nosuch FROM users", bad)
db = avapConnector("main")
q = db.query("SELECT $1::int + 1 AS n, $2::text AS s", 41, "x")
addResult(ins)
addResult(adults)
addResult(ann)
addResult(upd)
addResult(ins2)
addResult(chk)
addResult(chk2)
addResult(cnt)
addResult(direct)
addResult(bad)
addResult(q)
`
	out, err := runScript(t, h, src, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := resultMap(t, out)
	want := map[string]string{
		"adults": `[{"name":"Cy","age":41},{"name":"Ann","age":30}]`,
		"ann":    `[{"id":1,"name":"Ann","age":30,"score":12.5,"created":"2026-01-02T03:04:05Z","born":"1996-05-04","data":"AQI=","meta":{"k":[1,"two"]}}]`,
		"chk":    `"True"`,
		"chk2":   `"False"`,
		"cnt":    `[{"n":3}]`,
		"direct": `"Success: 1"`,
		"q":      `[{"n":42,"s":"x"}]`,
	}
	for k, w := range want {
		got := string(m[k])
		if k == "ann" { // the server's zone decides the offset of created
			var rows []map[string]any
			_ = json.Unmarshal(m[k], &rows)
			if len(rows) == 1 {
				if ts, err := time.Parse(time.RFC3339, rows[0]["created"].(string)); err == nil && ts.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
					rows[0]["created"] = "2026-01-02T03:04:05Z"
				}
				b, _ := json.Marshal(rows)
				got, w = string(b), mustCanon(t, w)
			}
		}
		if got != w {
			t.Errorf("%s = %s\nwant %s", k, got, w)
		}
	}
	if !strings.Contains(string(m["ins"]), `"name":"Cy","age":41`) || !strings.Contains(string(m["upd"]), `"age":42`) ||
		!strings.Contains(string(m["ins2"]), `"name":"Dee"`) {
		t.Errorf("ins %s upd %s ins2 %s", m["ins"], m["upd"], m["ins2"])
	}
	if !strings.Contains(string(m["bad"]), `"error"`) || !strings.Contains(string(m["bad"]), "nosuch") {
		t.Errorf("ormDirect error = %s", m["bad"])
	}
}

func mustCanon(t *testing.T, s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSQLInjection: values from variables are parameters, and the selector
// grammar refuses anything but comparisons.
func TestSQLInjection(t *testing.T) {
	h := sqlHost(t, pgSchema(t))
	evil := `x'); DROP TABLE users; --`
	src := `n = "` + evil + `"
a = "1 OR 1=1"
ormAccessInsert("name", "n", "users", ins)
ormAccessSelect("name", "users", back, {"name": n})
ormAccessSelect("name", "users", none, {"name": a})
db = avapConnector("main")
viaq = db.query("SELECT name FROM users WHERE name = $1", n)
addResult(back)
addResult(none)
addResult(viaq)
`
	out, err := runScript(t, h, src, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := resultMap(t, out)
	wantRow, _ := json.Marshal([]map[string]string{{"name": evil}})
	if string(m["back"]) != string(wantRow) || string(m["viaq"]) != string(wantRow) || string(m["none"]) != "[]" {
		t.Errorf("result = %s", out)
	}
	for _, sel := range []string{
		"name = 'a'; DROP TABLE users",
		"name = 'a' -- comment",
		"pg_sleep(1) IS NULL",
		"name = (SELECT 1)",
		"name = 'a' UNION SELECT 1",
		"1 = 1",
		"name = lower('A')",
		"name::text = 'a'",
	} {
		_, err := runScript(t, h, `ormAccessSelect("name", "users", r, "`+strings.ReplaceAll(sel, `"`, `\"`)+`")`+"\n", vm.Limits{})
		if err == nil || !strings.Contains(err.Error(), "selector") {
			t.Errorf("selector %q: %v", sel, err)
		}
	}
	for _, tc := range []struct{ fields, table string }{{`name") VALUES ('x'); --`, "users"}, {"name", `users"; DROP TABLE users; --`}} {
		_, err := runScript(t, h, `ormAccessInsert("`+strings.ReplaceAll(tc.fields, `"`, `\"`)+`", ["v"], "`+strings.ReplaceAll(tc.table, `"`, `\"`)+`", r)`+"\n", vm.Limits{})
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("quoted identifiers %q %q: %v", tc.fields, tc.table, err)
		}
	}
	out, err = runScript(t, h, `ormAccessSelect("name", "users", r, "")`+"\naddResult(r)\n", vm.Limits{})
	if err != nil || !strings.Contains(out, "Ann") || !strings.Contains(out, "Bob") {
		t.Errorf("users table after the attempts: %s %v", out, err)
	}
}

func TestSQLLimits(t *testing.T) {
	h := sqlHost(t, pgSchema(t))
	// The connector's statement timeout is catchable.
	out, err := runScript(t, h, `db = avapConnector("slow")
try()
  db.query("SELECT pg_sleep(2)")
exception(e)
end()
addResult(e)
`, vm.Limits{})
	if err != nil || !strings.Contains(out, "statement timeout") {
		t.Errorf("statement timeout: %s %v", out, err)
	}
	// The run's deadline bounds every statement.
	start := time.Now()
	_, err = runScript(t, h, `db = avapConnector("main")
db.query("SELECT pg_sleep(5)")
`, vm.Limits{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, vm.ErrTimeout) || time.Since(start) > 3*time.Second {
		t.Errorf("deadline: %v after %v", err, time.Since(start))
	}
	// A read-only connector refuses writes.
	_, err = runScript(t, h, `db = avapConnector("ro")
r = db.query("SELECT count(*) AS n FROM users")
db.query("DELETE FROM users")
`, vm.Limits{})
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("read-only: %v", err)
	}
	// Unknown connector; no capability.
	if _, err := runScript(t, h, `db = avapConnector("nosuch")`+"\n", vm.Limits{}); !errors.Is(err, ErrNoConnector) {
		t.Errorf("unknown connector: %v", err)
	}
	for _, src := range []string{`db = avapConnector("main")` + "\n", `ormDirect("SELECT 1", r)` + "\n",
		`ormAccessSelect("*", "users", r, "")` + "\n"} {
		if _, err := runScript(t, h.WithCapabilities(bus.CapHTTP), src, vm.Limits{}); !errors.Is(err, ErrCapability) {
			t.Errorf("%q without capability: %v", src, err)
		}
	}
	// A forged connector object grants nothing either.
	if _, err := runScript(t, h.WithCapabilities(bus.CapHTTP), `db = {"__connector__": "main"}`+"\ndb.query(\"SELECT 1\")\n", vm.Limits{}); !errors.Is(err, ErrCapability) {
		t.Errorf("forged connector: %v", err)
	}
	// Update without a selector is refused.
	if _, err := runScript(t, h, `ormAccessUpdate("age", [1], "users", r, "")`+"\n", vm.Limits{}); err == nil {
		t.Error("update without selector accepted")
	}
}

// TestSQLSessionReset: with one pooled connection, the session state one
// run leaves behind (SET, temp table, prepared statement, advisory lock)
// is gone when the next run gets the same connection.
func TestSQLSessionReset(t *testing.T) {
	dsn := pgSchema(t)
	h := newTestHost(t, HostOptions{Connectors: map[string]ConnectorOptions{"main": {DSN: dsn, MaxConns: 1}}})
	probe := `ormDirect("SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app, current_setting('search_path') AS path, ` +
		`to_regclass('pg_temp.leak_t') IS NULL AS no_temp, (SELECT count(*) FROM pg_prepared_statements WHERE name = 'leak_p') AS prepared, ` +
		`(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks", s)
addResult(s)
`
	out1, err := runScript(t, h, `ormDirect("SET application_name = 'leak'", a)
ormDirect("CREATE TEMP TABLE leak_t (x int)", b)
ormDirect("PREPARE leak_p AS SELECT 1", c)
ormDirect("SELECT pg_advisory_lock(4242) AS l", d)
ormDirect("SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app", e)
addResult(a)
addResult(b)
addResult(c)
addResult(d)
addResult(e)
`, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m1 := resultMap(t, out1)
	for _, k := range []string{"a", "b", "c"} {
		if !strings.Contains(string(m1[k]), "Success") {
			t.Fatalf("run 1 %s = %s", k, m1[k])
		}
	}
	// Within run 1 the statements shared the only connection, so the SET
	// is visible until the connection is released after that statement.
	var e []struct {
		PID int    `json:"pid"`
		App string `json:"app"`
	}
	if err := json.Unmarshal(m1["e"], &e); err != nil || len(e) != 1 {
		t.Fatalf("run 1 e = %s (%v)", m1["e"], err)
	}
	if e[0].App != "avap-executor" {
		t.Errorf("application_name in the statement after SET = %q, want the connection default (reset on release)", e[0].App)
	}
	out2, err := runScript(t, h, probe, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var s []struct {
		PID      int    `json:"pid"`
		App      string `json:"app"`
		Path     string `json:"path"`
		NoTemp   bool   `json:"no_temp"`
		Prepared int    `json:"prepared"`
		Locks    int    `json:"locks"`
	}
	m2 := resultMap(t, out2)
	if err := json.Unmarshal(m2["s"], &s); err != nil || len(s) != 1 {
		t.Fatalf("run 2 s = %s (%v)", m2["s"], err)
	}
	got := s[0]
	if got.PID != e[0].PID {
		t.Fatalf("run 2 used another connection (pid %d, run 1 %d): the test proves nothing", got.PID, e[0].PID)
	}
	if got.App != "avap-executor" || !got.NoTemp || got.Prepared != 0 || got.Locks != 0 {
		t.Errorf("session state leaked into run 2: %+v", got)
	}
	if !strings.Contains(got.Path, "avap_test_") {
		t.Errorf("search_path of the DSN lost by the reset: %q", got.Path)
	}
}
