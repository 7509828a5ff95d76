package vm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/avapmesh/avap/vm"
)

// TestMethodCall: x.name(args...) reaches the Host as ".name" with the
// receiver first, in statements, assignments and expressions.
func TestMethodCall(t *testing.T) {
	var calls []string
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		var parts []string
		for _, a := range args {
			b, _ := a.MarshalJSON()
			parts = append(parts, string(b))
		}
		calls = append(calls, cmd+"("+strings.Join(parts, ",")+")")
		if cmd == "avapConnector" {
			d := vm.NewDict(1)
			d.Set("connector", args[0])
			return d, nil
		}
		return vm.Int(int64(len(args))), nil
	})
	src := `db = avapConnector("main")
id = 7
rows = db.query("SELECT $1", id)
db.query("x")
n = db.count() + 1
addResult(rows)
addResult(n)
`
	res, err := run(t, src, &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rows":3,"n":2}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
	want := []string{`avapConnector("main")`, `.query({"connector":"main"},"SELECT $1",7)`,
		`.query({"connector":"main"},"x")`, `.count({"connector":"main"})`}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls = %q\nwant %q", calls, want)
	}
	p := compile(t, src)
	if p.SideEffectFree() || !strings.Contains(fmt.Sprint(p.Commands()), ".query") {
		t.Errorf("commands = %v, side-effect free %v", p.Commands(), p.SideEffectFree())
	}
	if _, err := run(t, "db = 1\ndb.query(1)\n", nil, vm.Limits{}); err == nil {
		t.Error("method call without a Host succeeded")
	}
}

// TestHostVariable: vm.Variable reads the caller's local first, then the
// global, during a Host call.
func TestHostVariable(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		out := vm.NewDict(2)
		for _, name := range strings.Split(args[1].AsString(), ",") {
			if v, ok := vm.Variable(ctx, name); ok {
				out.Set(name, v)
			} else {
				out.Set(name, vm.String("<unset>"))
			}
		}
		return out, nil
	})
	src := `a = "global a"
b = "global b"
function f(a){
  c = "local c"
  ormAccessInsert("x", "a,b,c,zz", "t", r)
  return(r)
}
r1 = f("param a")
ormAccessInsert("x", "a,c", "t", r2)
addResult(r1)
addResult(r2)
`
	res, err := run(t, src, &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"r1":{"a":"param a","b":"global b","c":"local c","zz":"<unset>"},"r2":{"a":"global a","c":"<unset>"}}`
	if string(res.Result) != want {
		t.Errorf("result = %s\nwant %s", res.Result, want)
	}
	if _, ok := vm.Variable(context.Background(), "a"); ok {
		t.Error("Variable outside a Host call found something")
	}
}

// TestStatusIsGlobal: a function sets the HTTP status through _status
// without `$` (endpoint handlers and middleware); a go_async block does not.
func TestStatusIsGlobal(t *testing.T) {
	src := `function deny(){
  _status = 401
  addVar(_status, 403)
  x = _status
  return(x)
}
r = deny()
addResult(r)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 403 || string(res.Result) != `{"r":403}` {
		t.Errorf("status %d result %s", res.Status, res.Result)
	}
	res, err = run(t, "function f(_status){\n  _status = 500\n}\nf(1)\nok = 1\naddResult(ok)\n", nil, vm.Limits{})
	if err != nil || res.Status != 0 {
		t.Errorf("parameter _status leaked: %v %v", res, err)
	}
}
