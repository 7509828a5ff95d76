package vm_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
)

// sleepHost makes RequestGet take d (or until the call's context ends).
func sleepHost(d time.Duration) vm.Host {
	return hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return vm.None, ctx.Err()
		}
		return vm.String("done"), nil
	})
}

// barrierHost makes each RequestGet wait until n calls have started (or
// its context ends); a call that waited 5 s alone returns "alone".
type barrierHost struct {
	n       int
	arrived atomic.Int64
	all     chan struct{} // closed when the n-th call arrives
}

func newBarrierHost(n int) *barrierHost { return &barrierHost{n: n, all: make(chan struct{})} }

func (h *barrierHost) Call(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
	if h.arrived.Add(1) == int64(h.n) {
		close(h.all)
	}
	select {
	case <-h.all:
		return vm.String("done"), nil
	case <-time.After(5 * time.Second):
		return vm.String("alone"), nil
	case <-ctx.Done():
		return vm.None, ctx.Err()
	}
}

// (1) Two blocks waiting in a Host call overlap. The host is a barrier:
// each call returns "done" only once the other has started too, so blocks
// run one after the other would return "alone" (after 5 s) instead. No
// clock decides, so a slow machine cannot fail the test.
func TestGoAsyncOverlap(t *testing.T) {
	src := `go_async(a)
  RequestGet("u", "", "", ra)
end()
go_async(b)
  RequestGet("u", "", "", rb)
end()
gather(a, 30)
gather(b, 30)
addResult(ra)
addResult(rb)
`
	res, err := run(t, src, &vm.Input{Host: newBarrierHost(2)}, vm.Limits{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ra":"done","rb":"done"}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s (\"alone\": the blocks did not overlap)", res.Result, want)
	}
}

func TestGatherMerges(t *testing.T) {
	src := `x = 1
go_async(t1)
  y = x + 1
  x = 100
  _hidden = 5
  addResult(y)
end()
seen = x
function f(a){
  return(a * 2)
}
h = go(f, 21)
gather(t1, 5)
r = gather(h, 5000)
addResult(seen)
addResult(x)
addResult(r)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"y":2,"seen":1,"x":100,"r":42}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
	if strings.Contains(string(res.Variables), "_hidden") {
		t.Errorf("_ variable merged: %s", res.Variables)
	}
}

// (2) Snapshot semantics: the task works on copies of the lists and dicts
// it sees, taken when it starts; go() arguments too.
func TestSnapshot(t *testing.T) {
	src := `l = [1, 2]
d = {"k": [1]}
go_async(t)
  RequestGet("u", "", "", w)
  seen = len(l)
  variableToList(3, l)
  inner = d["k"]
  variableToList(4, inner)
  after = len(l)
  kn = len(d["k"])
end()
variableToList(9, l)
variableToList(8, l)
function f(lst){
  RequestGet("u", "", "", w)
  n = len(lst)
  variableToList(5, lst)
  return([n, len(lst)])
}
arg = [1]
h = go(f, arg)
variableToList(6, arg)
variableToList(7, arg)
gather(t, 5)
r = gather(h, 5000)
addResult(seen)
addResult(after)
addResult(kn)
addResult(l)
addResult(d)
addResult(arg)
addResult(r)
`
	res, err := run(t, src, &vm.Input{Host: sleepHost(50 * time.Millisecond)}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// The block ran after main appended 9 and 8 (it waited 50ms first) and
	// still saw 2 elements; gather replaced main's l by the block's (which
	// never had 9 and 8); the block's change of the list nested in d, which
	// it does not assign, stayed in the block; f saw arg as it was at go().
	want := `{"seen":2,"after":3,"kn":2,"l":[1,2,3],"d":{"k":[1]},"arg":[1,6,7],"r":[1,2]}`
	if string(res.Result) != want {
		t.Errorf("result = %s\nwant     %s", res.Result, want)
	}
}

// countHost counts "tick" calls; "count" returns the count; "sleep" waits.
type countHost struct{ n atomic.Int64 }

func (h *countHost) Call(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
	switch cmd {
	case "RequestGet":
		switch args[0].AsString() {
		case "tick":
			return vm.Int(h.n.Add(1)), nil
		case "count":
			return vm.Int(h.n.Load()), nil
		case "sleep":
			select {
			case <-time.After(150 * time.Millisecond):
			case <-ctx.Done():
				return vm.None, ctx.Err()
			}
			return vm.None, nil
		case "block":
			<-ctx.Done()
			return vm.None, ctx.Err()
		}
	}
	return vm.None, errors.New("bad command")
}

// (3) A gather timeout is catchable and stops the task.
func TestGatherTimeoutStopsTask(t *testing.T) {
	src := `go_async(spin)
  startLoop(i, 1, 1000000000)
    RequestGet("tick", "", "", c)
  endLoop()
end()
try()
  gather(spin, 0.05)
exception(e)
end()
RequestGet("count", "", "", c1)
RequestGet("sleep", "", "", s)
RequestGet("count", "", "", c2)
function g(){
  RequestGet("block", "", "", x)
  return(1)
}
h = go(g)
try()
  v = gather(h, "20")
exception(e2)
end()
addResult(e)
addResult(e2)
`
	h := &countHost{}
	start := time.Now()
	res, err := run(t, src, &vm.Input{Host: h}, vm.Limits{MaxSteps: 1 << 40, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("run took %v", time.Since(start))
	}
	want := `{"e":"gather: task 'spin' did not finish within 0.05s","e2":"gather: task 'go:1' did not finish within 20ms"}`
	if string(res.Result) != want {
		t.Errorf("result = %s\nwant     %s", res.Result, want)
	}
	var vars map[string]any
	mustUnmarshal(t, res.Variables, &vars)
	c1, c2 := vars["c1"].(float64), vars["c2"].(float64)
	if c1 < 1 || c2-c1 > 1 { // one tick may have been in flight at the timeout
		t.Errorf("task kept running after its gather timed out: count %v then %v", c1, c2)
	}
	if n := h.n.Load(); float64(n)-c2 > 1 {
		t.Errorf("count grew to %d after the catch (%v)", n, c2)
	}
}

// (4) Tasks share the run's step and memory budgets; a runaway task stops
// the whole run with the (uncatchable) limit error.
func TestSharedLimits(t *testing.T) {
	// Each task alone fits in the step limit; together they do not.
	steps := `function work(){
  startLoop(i, 1, 20000)
    x = i
  endLoop()
  return(1)
}
h1 = go(work)
h2 = go(work)
try()
  a = gather(h1, 0)
  b = gather(h2, 0)
exception(e)
end()
`
	if _, err := run(t, steps, nil, vm.Limits{MaxSteps: 300_000}); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
	_, err := run(t, steps, nil, vm.Limits{MaxSteps: 120_000}) // about 80,000 each
	ee := evalErr(t, err, vm.ErrStepLimit)
	if ee.Pos.Line < 2 || ee.Pos.Line > 4 {
		t.Errorf("step limit at %v, want inside work()", ee.Pos)
	}

	// A runaway task the main flow does not even gather. The main flow
	// blocks in a host call that only the run's end releases: if the task's
	// step limit did not stop the run at once, the run would last until its
	// 10 s timeout. Half of that is the bound, far above any scheduling delay.
	start := time.Now()
	_, err = run(t, `go_async(loop)
  startLoop(i, 1, 1000000000)
    x = i
  endLoop()
end()
RequestGet("block", "", "", s)
`, &vm.Input{Host: &countHost{}}, vm.Limits{MaxSteps: 50_000, Timeout: 10 * time.Second})
	evalErr(t, err, vm.ErrStepLimit)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("runaway task stopped the run after %v, want at once", d)
	}

	mem := `function grow(){
  s = "x"
  startLoop(i, 1, 19)
    s = s + s
  endLoop()
  return(len(s))
}
h1 = go(grow)
h2 = go(grow)
a = gather(h1, 0)
b = gather(h2, 0)
`
	// 2^19 bytes built by doubling: about 1 MiB charged per task.
	if _, err := run(t, mem, nil, vm.Limits{MaxMemoryBytes: 4 << 20}); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
	_, err = run(t, mem, nil, vm.Limits{MaxMemoryBytes: 3 << 20 / 2})
	evalErr(t, err, vm.ErrMemoryLimit)
}

// The step budget of a run with tasks is never exceeded.
func TestSharedStepsBound(t *testing.T) {
	src := `function work(n){
  startLoop(i, 1, n)
    x = i
  endLoop()
  return(n)
}
h1 = go(work, 5000)
h2 = go(work, 7000)
go_async(b)
  y = work(3000)
end()
a1 = gather(h1, 0)
a2 = gather(h2, 0)
gather(b, 0)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// The run's steps include its tasks' (about 4 per iteration).
	if s := res.Stats.Steps; s < 3*15000 || s > 5*15000 {
		t.Errorf("Stats.Steps = %d, want the tasks' steps included", s)
	}
	limit := res.Stats.Steps - 1
	_, err = run(t, src, nil, vm.Limits{MaxSteps: limit})
	evalErr(t, err, vm.ErrStepLimit)
}

// (5) The run's deadline and its cancellation stop a task blocked in a Host
// call.
func TestDeadlineStopsBlockedTask(t *testing.T) {
	var stopped atomic.Int64
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		<-ctx.Done()
		stopped.Add(1)
		return vm.None, ctx.Err()
	})
	for _, gather := range []string{"gather(t, 0)", "gather(t, 100)", "x = 1"} {
		stopped.Store(0)
		start := time.Now()
		_, err := run(t, "go_async(t)\n  RequestGet(\"u\", \"\", \"\", r)\nend()\n"+gather+"\nstartLoop(i, 1, 100000000)\n  y = i\nendLoop()\n",
			&vm.Input{Host: host}, vm.Limits{Timeout: 200 * time.Millisecond, MaxSteps: 1 << 40})
		evalErr(t, err, vm.ErrTimeout)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: run took %v", gather, d)
		}
		if stopped.Load() != 1 {
			t.Errorf("%s: blocked Host call not stopped", gather)
		}
	}

	// Cancel (and context cancellation) while the main flow waits in gather.
	p := compile(t, "go_async(t)\n  RequestGet(\"u\", \"\", \"\", r)\nend()\ngather(t, 0)\n")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	stopped.Store(0)
	_, err := vm.NewMachine().Run(ctx, p, &vm.Input{Host: host}, vm.Limits{})
	evalErr(t, err, vm.ErrCanceled)
	if stopped.Load() != 1 {
		t.Error("context cancel: blocked Host call not stopped")
	}
	m := vm.NewMachine()
	time.AfterFunc(50*time.Millisecond, func() { m.Cancel(nil) })
	stopped.Store(0)
	_, err = m.Run(context.Background(), p, &vm.Input{Host: host}, vm.Limits{})
	evalErr(t, err, vm.ErrCanceled)
	if stopped.Load() != 1 {
		t.Error("Cancel: blocked Host call not stopped")
	}
}

// (6) No task outlives its run.
func TestNoGoroutineLeak(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		<-ctx.Done()
		return vm.None, ctx.Err()
	})
	p := compile(t, `go_async(blocked)
  RequestGet("u", "", "", r)
end()
go_async(spin)
  startLoop(i, 1, 1000000000)
    x = i
  endLoop()
end()
function f(n){
  go_async(nested)
    RequestGet("u", "", "", r)
  end()
  return(n)
}
h = go(f, 1)
v = gather(h, 0)
addResult(v)
`)
	runtime.GC()
	base := runtime.NumGoroutine()
	m := vm.NewMachine()
	for i := 0; i < 50; i++ {
		res, err := m.Run(context.Background(), p, &vm.Input{Host: host}, vm.Limits{MaxSteps: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Result) != `{"v":1}` {
			t.Fatalf("result %s", res.Result)
		}
		if n := runtime.NumGoroutine(); n > base+2 {
			t.Fatalf("run %d: %d goroutines after Run, %d before", i, n, base)
		}
	}
}

// (7) An error in a task is raised at gather: catchable, or the run's error
// with the task's position and stack.
func TestTaskErrorAtGather(t *testing.T) {
	src := `function bad(a){
  return(a / 0)
}
h = go(bad, 1)
go_async(t)
  x = undefinedName + 1
end()
try()
  r = gather(h, 1000)
exception(e1)
end()
try()
  gather(t, 1)
exception(e2)
end()
addResult(e1)
addResult(e2)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"e1":"division by zero","e2":"name 'undefinedName' is not defined"}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
	_, err = run(t, "function bad(a){\n  return(a / 0)\n}\nh = go(bad, 1)\nr = gather(h, 0)\n", nil, vm.Limits{})
	ee := evalErr(t, err, nil)
	if ee.Pos.Line != 2 || len(ee.Stack) != 2 || ee.Stack[0].Pos.Line != 5 || ee.Stack[1].Func != "bad" {
		t.Errorf("error %v stack %+v, want at 2 in bad below the gather at 5", ee, ee.Stack)
	}
}

// (8) gather returns the result of go(f, args...).
func TestGoResult(t *testing.T) {
	src := `function pair(a, b){
  l = [a, b]
  variableToList(a * b, l)
  return(l)
}
h = go(pair, 6, 7)
r = gather(h, 0)
variableToList("mine", r)
addResult(r)
addResult(h)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"r":[6,7,42,"mine"],"h":"go:1"}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// vm.Variable reads the variables of the machine that made the Host call.
func TestVariableInTask(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		v, _ := vm.Variable(ctx, "x")
		return v, nil
	})
	res, err := run(t, `x = "main"
go_async(t)
  x = "task"
  RequestGet("u", "", "", inTask)
end()
RequestGet("u", "", "", inMain)
gather(t, 5)
addResult(inTask)
addResult(inMain)
`, &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"inTask":"task","inMain":"main"}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// Output of tasks goes to the run's result and logs, within its limit.
func TestTaskOutput(t *testing.T) {
	src := `function w(n){
  startLoop(i, 1, 50)
    addLog("x")
  endLoop()
  addResult(n)
  return(n)
}
h1 = go(w, 1)
h2 = go(w, 2)
a = gather(h1, 0)
b = gather(h2, 0)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Logs) != 100 || string(res.Result) != `{"n":1}` && string(res.Result) != `{"n":2}` {
		t.Errorf("logs %d, result %s", len(res.Logs), res.Result)
	}
	_, err = run(t, src, nil, vm.Limits{MaxOutputBytes: 300})
	evalErr(t, err, vm.ErrOutputLimit)
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
}

// A task that starts itself recursively is bounded by the run's memory
// budget (every task is charged), and leaves no goroutine behind.
func TestTaskBomb(t *testing.T) {
	base := runtime.NumGoroutine()
	start := time.Now()
	_, err := run(t, `function f(n){
  h = go(f, n + 1)
  r = gather(h, 0)
  return(r)
}
x = f(1)
`, nil, vm.Limits{MaxMemoryBytes: 8 << 20})
	evalErr(t, err, vm.ErrMemoryLimit)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		t.Errorf("%d goroutines after Run, %d before", n, base)
	}
}

// BenchmarkTasks: start and gather 10 go() tasks per run.
func BenchmarkTasks(b *testing.B) {
	p := compile(b, `function sq(n){
  return(n * n)
}
s = 0
startLoop(i, 1, 10)
  h = go(sq, i)
  variableToList(h, hs)
endLoop()
startLoop(i, 0, 9)
  r = gather(hs[i], 0)
  s = s + r
endLoop()
`)
	m := vm.NewMachine()
	b.ReportAllocs()
	for b.Loop() {
		res, err := m.Run(context.Background(), p, nil, vm.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(string(res.Variables), `"s":385`) {
			b.Fatal(string(res.Variables))
		}
	}
}
