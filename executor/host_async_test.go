package executor

import (
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
)

// TestSQLFromTasks: the tasks of one run (go_async, go()) call the Host at
// the same time; each SQL command has its own transaction, and
// ormAccessInsert reads the variables of the task that calls it.
func TestSQLFromTasks(t *testing.T) {
	h := sqlHost(t, pgSchema(t))
	src := `function add(who, age){
  n = who
  a = age
  ormDirect("SELECT pg_sleep(0.2)", s)
  ormAccessInsert("name, age", "n,a", "users", ins)
  return(ins)
}
go_async(one)
  n = "T1"
  a = 1
  ormDirect("SELECT pg_sleep(0.2)", s1)
  ormAccessInsert("name, age", "n,a", "users", ins1)
end()
h = go(add, "T2", 2)
n = "main"
a = 0
ormDirect("SELECT pg_sleep(0.2)", s0)
gather(one, 5)
r2 = gather(h, 5000)
rows = ormDirect("SELECT name, age FROM users WHERE name LIKE 'T%' ORDER BY name", "")
addResult(rows)
`
	start := time.Now()
	out, err := runScript(t, h, src, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 550*time.Millisecond {
		t.Errorf("three 200ms statements in parallel took %v", took)
	}
	if got, want := string(resultMap(t, out)["rows"]), `[{"name":"T1","age":1},{"name":"T2","age":2}]`; got != want {
		t.Errorf("rows = %s, want %s", got, want)
	}
}
