package vm_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
)

// Task ids are scoped to the machine that starts the task: the same
// function doing go_async(x) ... gather(x) from two go() tasks at once gets
// each caller its own block (with one table per run, the second
// go_async(x) replaced, and stopped, the first: both blocks and the
// functions wait in a Host call, so both blocks are started before either
// is gathered).
func TestTaskIDsScopedPerTask(t *testing.T) {
	src := `function f(){
  go_async(x)
    RequestGet("u", "", "", w)
    y = g
  end()
  RequestGet("u", "", "", w2)
  gather(x, 5)
  return(y)
}
g = "first"
h1 = go(f)
g = "second"
h2 = go(f)
a = gather(h1, 0)
b = gather(h2, 0)
addResult(a)
addResult(b)
`
	for i := 0; i < 20; i++ {
		res, err := run(t, src, &vm.Input{Host: sleepHost(20 * time.Millisecond)}, vm.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"a":"first","b":"second"}`; string(res.Result) != want {
			t.Fatalf("run %d: result = %s, want %s", i, res.Result, want)
		}
	}
}

// A task's go_async(x) does not replace the x the main flow started; a
// task the main flow started is gathered inside a function (same machine)
// and inside a task (the tables of the ancestors).
func TestTaskIDsMainAndFallback(t *testing.T) {
	src := `go_async(x)
  RequestGet("u", "", "", w)
  v = "main"
end()
go_async(m)
  mv = 5
end()
go_async(n)
  nv = 6
end()
function own(){
  go_async(x)
    v = "task"
  end()
  gather(x, 5)
  return(v)
}
function fromMain(){
  gather(m, 5)
  return(mv)
}
h = go(own)
r = gather(h, 0)
gather(x, 5)
k = fromMain()
function inTask(){
  gather(n, 5)
  return(nv)
}
h2 = go(inTask)
r2 = gather(h2, 0)
addResult(r)
addResult(v)
addResult(k)
addResult(r2)
`
	res, err := run(t, src, &vm.Input{Host: sleepHost(10 * time.Millisecond)}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"r":"task","v":"main","k":5,"r2":6}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// Starting an id again in the same scope replaces the task not yet
// gathered and stops it (its Host call ends), in the main flow and in a task.
func TestTaskIDRestartReplaces(t *testing.T) {
	var running atomic.Int64
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		if args[0].AsString() == "check" { // blocked calls still running after up to 1s
			time.Sleep(50 * time.Millisecond)
			for i := 0; i < 100 && running.Load() != 0; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			return vm.Int(running.Load()), nil
		}
		running.Add(1)
		defer running.Add(-1)
		select {
		case <-ctx.Done():
			return vm.None, ctx.Err()
		case <-time.After(5 * time.Second):
			return vm.None, nil
		}
	})
	src := `go_async(x)
  RequestGet("block", "", "", w)
  v = 1
end()
go_async(x)
  v = 2
end()
gather(x, 5)
RequestGet("check", "", "", c1)
function f(){
  go_async(y)
    RequestGet("block", "", "", w)
    z = 1
  end()
  go_async(y)
    z = 2
  end()
  gather(y, 5)
  return(z)
}
r = gather(go(f), 0)
RequestGet("check", "", "", c2)
addResult(v)
addResult(r)
addResult(c1)
addResult(c2)
`
	res, err := run(t, src, &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":2,"r":2,"c1":0,"c2":0}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// A block that gathers an inner block keeps the merged variables: its later
// statements see them and the gather of the block merges them (v was lost
// when the task's gathers merged only into its own snapshot); three levels
// deep too; the block's own variables win; "_" names are not merged.
func TestNestedGatherMerges(t *testing.T) {
	src := `go_async(outer)
  go_async(inner)
    addVar(v, 1)
    w = "inner"
    _p = 1
  end()
  gather(inner, 1)
  seen = v
  addResult(v)
  w = "outer"
  go_async(mid)
    go_async(deep)
      d = "deep"
    end()
    gather(deep, 1)
  end()
  gather(mid, 1)
end()
gather(outer, 1)
addResult(v)
addResult(seen)
addResult(w)
addResult(d)
addResult(_p)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"seen":1,"w":"outer","d":"deep","_p":null}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// A go() function that gathers a block gets its variables in its own
// snapshot; they are not merged into the caller (only the result is).
func TestNestedGatherInGoNotMerged(t *testing.T) {
	src := `function f(){
  go_async(i)
    z = 5
  end()
  gather(i, 1)
  return(z)
}
r = gather(go(f), 0)
addResult(r)
addResult(z)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"r":5,"z":null}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// A task gathering its own id or handle gets a catchable error at once
// (it used to wait until the timeout) and can still be gathered.
func TestGatherSelf(t *testing.T) {
	src := `go_async(x)
  try()
    gather(x, 2)
  exception(e)
    msg = e
  end()
end()
function f(){
  try()
    gather("go:1", 2000)
  exception(e)
    return(e)
  end()
  return("no error")
}
h = go(f)
r = gather(h, 0)
gather(x, 5)
addResult(msg)
addResult(r)
`
	start := time.Now()
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"msg":"gather: task 'x' cannot wait for itself","r":"gather: task 'go:1' cannot wait for itself"}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v: a self-gather waited", took)
	}
}

// Uncaught, a self-gather fails the gather of the task with that message.
func TestGatherSelfUncaught(t *testing.T) {
	_, err := run(t, `go_async(x)
  gather(x, 2)
end()
gather(x, 5)
`, nil, vm.Limits{})
	if err == nil || !strings.Contains(err.Error(), "gather: task 'x' cannot wait for itself") {
		t.Fatalf("err = %v", err)
	}
}
