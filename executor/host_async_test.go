package executor

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
)

// TestSQLFromTasks: the tasks of one run (go_async, go()) call the Host at
// the same time; each SQL command has its own transaction, and
// ormAccessInsert reads the variables of the task that calls it.
//
// That the three tasks' statements run at the same time is proven with a
// barrier in the database rather than a stopwatch: each task commits an
// arrival row, then waits (up to about 5 s) in one statement until all three
// arrivals are visible. Run one after another, the first task would wait
// alone and fail; run together, they pass however slow the machine is.
func TestSQLFromTasks(t *testing.T) {
	h := sqlHost(t, pgSchema(t))
	src := `function add(who, age){
  n = who
  a = age
  ormDirect(arrive, x)
  ormDirect(barrier, w)
  ormAccessInsert("name, age", "n,a", "users", ins)
  return(w)
}
go_async(one)
  n = "T1"
  a = 1
  ormDirect(arrive, x1)
  ormDirect(barrier, w1)
  ormAccessInsert("name, age", "n,a", "users", ins1)
end()
h = go(add, "T2", 2)
n = "main"
a = 0
ormDirect(arrive, x0)
ormDirect(barrier, w0)
gather(one, 30)
w2 = gather(h, 30000)
rows = ormDirect("SELECT name, age FROM users WHERE name LIKE 'T%' ORDER BY name", "")
addResult(w0)
addResult(w2)
addResult(rows)
`
	src = "arrive = \"INSERT INTO users (name) VALUES ('arrived')\"\n" +
		"barrier = \"" + barrierSQL + "\"\n" + src
	out, err := runScript(t, h, src, vm.Limits{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := resultMap(t, out)
	// A failed statement leaves {"error": ...} in its variable. T1's own
	// result stays in its task; main and T2 passing the barrier needs its
	// arrival anyway.
	for _, k := range []string{"w0", "w2"} {
		var tag string
		if err := json.Unmarshal(m[k], &tag); err != nil {
			t.Errorf("%s: the tasks did not meet at the barrier: %s", k, m[k])
		}
	}
	if got, want := string(m["rows"]), `[{"name":"T1","age":1},{"name":"T2","age":2}]`; got != want {
		t.Errorf("rows = %s, want %s", got, want)
	}
}

// barrierSQL waits until three 'arrived' rows are committed, polling every
// 10 ms, and fails after 500 polls (5 s and more). Each statement inside the
// DO block sees the rows committed before it (READ COMMITTED).
const barrierSQL = "DO $b$ BEGIN " +
	"FOR i IN 1..500 LOOP " +
	"IF (SELECT count(*) FROM users WHERE name = 'arrived') >= 3 THEN RETURN; END IF; " +
	"PERFORM pg_sleep(0.01); " +
	"END LOOP; " +
	"RAISE EXCEPTION 'barrier: the three tasks never ran their statements at the same time'; " +
	"END $b$"
