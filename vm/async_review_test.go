package vm_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
)

// Adversarial tests of go_async / go() / gather on goroutines (review of
// 53378da).

// A go() task starts a go_async block and gathers it; its result comes back.
// (Task ids are scoped to the task that starts them, so one id for both
// calls would do too: see TestTaskIDsScopedPerTask.)
func TestReviewAsyncNestedInGo(t *testing.T) {
	res, err := run(t, `g = 3
function f(n){
  id = "inner${n}"
  go_async(id)
    y = g * 2
  end()
  gather(id, 5)
  return(y + n)
}
h1 = go(f, 2)
h2 = go(f, 5)
a = gather(h1, 0)
b = gather(h2, 0)
addResult(a)
addResult(b)
`, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":8,"b":11}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
}

// Two tasks gather the same id: exactly one gets it, the other a catchable
// "no task" error (no Host to pass it to); a task can gather a task the
// main flow started.
func TestReviewGatherSameIDFromTwoTasks(t *testing.T) {
	src := `go_async(x)
  RequestGet("u", "", "", w)
  v = 7
end()
function g(){
  try()
    gather(x, 5)
    r = v
  exception(e)
    r = e
  end()
  return(r)
}
h1 = go(g)
h2 = go(g)
a = gather(h1, 0)
b = gather(h2, 0)
addResult(a)
addResult(b)
`
	for i := 0; i < 20; i++ {
		host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
			if cmd != "RequestGet" {
				return vm.None, errors.New("gather: no task 'x'")
			}
			time.Sleep(5 * time.Millisecond)
			return vm.None, nil
		})
		res, err := run(t, src, &vm.Input{Host: host}, vm.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		s := string(res.Result)
		if s != `{"a":7,"b":"gather: gather: no task 'x'"}` && s != `{"a":"gather: gather: no task 'x'","b":7}` {
			t.Fatalf("result = %s", s)
		}
	}
}

// Tasks and the main flow addResult/addLog the same names concurrently.
func TestReviewConcurrentAddResult(t *testing.T) {
	src := `function w(n){
  startLoop(i, 1, 300)
    k = n
    addResult(k)
    addLog("t")
  endLoop()
  return(n)
}
hs = []
startLoop(j, 1, 4)
  h = go(w, j)
  variableToList(h, hs)
endLoop()
startLoop(i, 1, 300)
  k = 0
  addResult(k)
  addLog("m")
endLoop()
startLoop(j, 0, 3)
  itemFromList(hs, j, h)
  r = gather(h, 0)
endLoop()
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Logs) != 1500 {
		t.Errorf("%d logs, want 1500", len(res.Logs))
	}
	if !strings.HasPrefix(string(res.Result), `{"k":`) {
		t.Errorf("result %s", res.Result)
	}
}

// A fatal error of a task (memory) is not catchable by the try around its
// gather, and stops the run.
func TestReviewFatalTaskErrorNotCatchable(t *testing.T) {
	_, err := run(t, `function grow(){
  s = "x"
  startLoop(i, 1, 30)
    s = s + s
  endLoop()
  return(1)
}
h = go(grow)
try()
  r = gather(h, 0)
exception(e)
  addResult(e)
end()
`, nil, vm.Limits{MaxMemoryBytes: 1 << 20})
	evalErr(t, err, vm.ErrMemoryLimit)
}

// 1000 tasks started in a loop under a small memory budget: the run stops
// with ErrMemoryLimit, quickly, with no goroutine left.
func TestReviewManyTasksSmallMemory(t *testing.T) {
	base := runtime.NumGoroutine()
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		<-ctx.Done()
		return vm.None, ctx.Err()
	})
	start := time.Now()
	_, err := run(t, `startLoop(i, 1, 1000)
  go_async("t")
    RequestGet("u", "", "", r)
  end()
endLoop()
`, &vm.Input{Host: host}, vm.Limits{MaxMemoryBytes: 256 << 10})
	evalErr(t, err, vm.ErrMemoryLimit)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		t.Errorf("%d goroutines after Run, %d before", n, base)
	}
	// Under a budget that fits: ids reused, earlier tasks replaced and stopped.
	res, err := run(t, `startLoop(i, 1, 1000)
  go_async("t")
    v = 1
  end()
endLoop()
gather("t", 5)
addResult(v)
`, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Result) != `{"v":1}` {
		t.Errorf("result %s", res.Result)
	}
}

// gather's timeout: 0, negative, None and NaN wait up to the deadline; a
// string number is a number; other strings are a catchable error.
func TestReviewGatherTimeoutValues(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"0", `{"v":1}`},
		{"-1", `{"v":1}`},
		{"None", `{"v":1}`},
		{`"0.5"`, `{"v":1}`},
		{`"abc"`, `{"e":"gather: timeout must be a number, not 'abc'"}`},
	} {
		res, err := run(t, `go_async(t)
  RequestGet("u", "", "", w)
  v = 1
end()
try()
  gather(t, `+tc.arg+`)
  addResult(v)
exception(e)
  addResult(e)
end()
`, &vm.Input{Host: sleepHost(20 * time.Millisecond)}, vm.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tc.arg, err)
		}
		if string(res.Result) != tc.want {
			t.Errorf("%s: result %s, want %s", tc.arg, res.Result, tc.want)
		}
	}
	// Waiting up to the deadline for a task that never ends is ErrTimeout.
	_, err := run(t, `go_async(t)
  RequestGet("u", "", "", w)
end()
gather(t, 0)
`, &vm.Input{Host: sleepHost(time.Hour)}, vm.Limits{Timeout: 100 * time.Millisecond})
	evalErr(t, err, vm.ErrTimeout)
}

// A task blocked in a Host call that ignores ctx for 50ms: Run waits for it,
// and nothing the task does after reaches the result of this run or the next.
func TestReviewHostIgnoresContext(t *testing.T) {
	entered := make(chan struct{}, 1)
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		switch args[0].AsString() {
		case "slow":
			entered <- struct{}{}
			time.Sleep(50 * time.Millisecond) // ignores ctx
			return vm.String("late"), nil
		case "entered": // the main flow waits until the task is in its Host call
			<-entered
		}
		return vm.String("fast"), nil
	})
	p := compile(t, `go_async(t)
  RequestGet("slow", "", "", r)
  addResult(r)
  addLog("late")
end()
RequestGet("entered", "", "", e)
addResult(x)
`)
	q := compile(t, `go_async(t)
  RequestGet("fast", "", "", r2)
end()
gather(t, 5)
addResult(r2)
`)
	base := runtime.NumGoroutine()
	m := vm.NewMachine()
	for i := 0; i < 5; i++ {
		start := time.Now()
		res, err := m.Run(context.Background(), p, &vm.Input{Host: host}, vm.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("Run returned after %v, before its task's Host call ended", d)
		}
		if string(res.Result) != `{"x":null}` || len(res.Logs) != 0 {
			t.Errorf("run %d: result %s logs %v", i, res.Result, res.Logs)
		}
		if n := runtime.NumGoroutine(); n > base+2 {
			t.Errorf("%d goroutines after Run, %d before", n, base)
		}
		res, err = m.Run(context.Background(), q, &vm.Input{Host: host}, vm.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Result) != `{"r2":"fast"}` || len(res.Logs) != 0 {
			t.Errorf("next run %d: result %s logs %v", i, res.Result, res.Logs)
		}
	}
}

// One pooled Machine, many runs: a run that leaves tasks running (and
// writing results) is followed by a run whose result holds only its own.
func TestReviewMachineReuseAfterUngathered(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
		}
		return vm.Int(1), nil
	})
	dirty := compile(t, `startLoop(i, 1, 6)
  go_async("t${i}")
    startLoop(j, 1, 100000)
      stale = j
      addResult(stale)
      addLog("stale")
      RequestGet("u", "", "", z)
    endLoop()
  end()
endLoop()
function f(){
  go_async(deep)
    startLoop(j, 1, 100000)
      stale2 = j
      addResult(stale2)
    endLoop()
  end()
  return(1)
}
h = go(f)
own = gather(h, 0)
addResult(own)
`)
	clean := compile(t, `function f(n){
  return(n)
}
h = go(f, 5)
mine = gather(h, 0)
addResult(mine)
`)
	m := vm.NewMachine()
	base := runtime.NumGoroutine()
	for i := 0; i < 30; i++ {
		res, err := m.Run(context.Background(), dirty, &vm.Input{Host: host}, vm.Limits{MaxSteps: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.Result), `"own":1`) {
			t.Fatalf("dirty run: %s", res.Result)
		}
		res, err = m.Run(context.Background(), clean, nil, vm.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Result) != `{"mine":5}` || len(res.Logs) != 0 || strings.Contains(string(res.Variables), "stale") {
			t.Fatalf("run after a run with ungathered tasks: result %s variables %s logs %d", res.Result, res.Variables, len(res.Logs))
		}
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		t.Errorf("%d goroutines after the runs, %d before", n, base)
	}
}

// A Host that panics inside a task: the run ends with ErrInternal, the
// process survives.
func TestReviewPanicInTaskHost(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		if args[0].AsString() == "boom" {
			panic("host exploded")
		}
		<-ctx.Done()
		return vm.None, ctx.Err()
	})
	for _, src := range []string{
		"go_async(t)\n  RequestGet(\"boom\", \"\", \"\", r)\nend()\ngather(t, 5)\n",
		"go_async(t)\n  RequestGet(\"boom\", \"\", \"\", r)\nend()\nRequestGet(\"wait\", \"\", \"\", w)\n",
		"function f(){\n  RequestGet(\"boom\", \"\", \"\", r)\n  return(r)\n}\nh = go(f)\ntry()\n  x = gather(h, 0)\nexception(e)\nend()\n",
	} {
		_, err := run(t, src, &vm.Input{Host: host}, vm.Limits{Timeout: 2 * time.Second})
		ee := evalErr(t, err, vm.ErrInternal)
		if !strings.Contains(ee.Msg, "host exploded") || ee.GoStack == "" {
			t.Errorf("error %v, GoStack %d bytes", ee, len(ee.GoStack))
		}
	}
}

// The steps of a run and its tasks never exceed MaxSteps.
func TestReviewStepsNeverExceeded(t *testing.T) {
	src := `function w(n){
  startLoop(i, 1, n)
    x = i
  endLoop()
  return(n)
}
hs = []
startLoop(j, 1, 12)
  h = go(w, 3000)
  variableToList(h, hs)
endLoop()
startLoop(j, 0, 11)
  itemFromList(hs, j, h)
  r = gather(h, 0)
endLoop()
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	total := res.Stats.Steps
	// Documented slack: up to 4095 steps per machine holding part of a chunk.
	for _, lim := range []int64{total + 13*4096, total, total - 1, total / 2, 5000, 100} {
		res, err := run(t, src, nil, vm.Limits{MaxSteps: lim})
		if lim > total {
			if err != nil {
				t.Errorf("MaxSteps = %d (needed %d + slack): %v", lim, total, err)
			} else if res.Stats.Steps > lim {
				t.Errorf("Stats.Steps %d > MaxSteps %d", res.Stats.Steps, lim)
			}
			continue
		}
		if err == nil {
			if res.Stats.Steps > lim {
				t.Errorf("Stats.Steps %d > MaxSteps %d", res.Stats.Steps, lim)
			}
			continue
		}
		evalErr(t, err, vm.ErrStepLimit)
	}
}

// Each task must not allocate memory the budget does not see: with a large
// MaxCallDepth, starting tasks must not allocate a frame array of that size
// per task (50 tasks x 2 MiB against a 2 MiB budget).
func TestReviewTaskFramesCharged(t *testing.T) {
	p := compile(t, `function f(n){
  return(n)
}
startLoop(i, 1, 50)
  h = go(f, i)
endLoop()
`)
	lim := vm.Limits{MaxCallDepth: 1 << 16, MaxMemoryBytes: 2 << 20}
	m := vm.NewMachine()
	if _, err := m.Run(context.Background(), p, nil, lim); err != nil { // warm up the root
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := vm.NewMachine().Run(context.Background(), p, nil, lim)
	runtime.ReadMemStats(&after)
	if err != nil && !errors.Is(err, vm.ErrMemoryLimit) {
		t.Fatal(err)
	}
	// The root's own frame array is allocated once per Machine (2 MiB);
	// beyond that, the run may allocate a small multiple of its budget.
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("a run with 50 trivial tasks allocated %d MiB under a %d MiB memory budget", got>>20, lim.MaxMemoryBytes>>20)
	}
}

// gather from inside a task of a task that fails: catchable there, with the
// failing task's position.
func TestReviewTaskGathersFailingTask(t *testing.T) {
	res, err := run(t, `go_async(bad)
  x = 1 / 0
end()
function g(){
  try()
    gather(bad, 5)
    r = "no error"
  exception(e)
    r = "caught: " + e
  end()
  return(r)
}
h = go(g)
out = gather(h, 0)
addResult(out)
`, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"out":"caught: division by zero"}`; string(res.Result) != want {
		t.Errorf("result %s, want %s", res.Result, want)
	}
}

// Cancel called from another goroutine while a machine runs short runs with
// tasks, over and over: a Cancel aimed at one run must not stop tasks of a
// later run (stale cancel), and nothing races.
func TestReviewConcurrentCancelAcrossRuns(t *testing.T) {
	p := compile(t, `function f(n){
  return(n)
}
h = go(f, 1)
v = gather(h, 0)
addResult(v)
`)
	m := vm.NewMachine()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			m.Cancel(errors.New("stale"))
			runtime.Gosched()
		}
	}()
	canceled := 0
	for i := 0; i < 3000; i++ {
		res, err := m.Run(context.Background(), p, nil, vm.Limits{})
		if err != nil {
			if !errors.Is(err, vm.ErrCanceled) {
				t.Fatal(err)
			}
			canceled++
			continue
		}
		if string(res.Result) != `{"v":1}` {
			t.Fatalf("result %s", res.Result)
		}
	}
	close(stop)
	<-done
	t.Logf("%d of 3000 runs canceled", canceled)
}

// Tasks blocked in Host calls (or in gather) must not hold the run's step
// budget: a fan-out of 40 go() calls that each run a few steps and wait for
// an HTTP-like call fits in MaxSteps 100,000, since the whole run executes
// a few thousand steps.
func TestReviewBlockedTasksDoNotHoldSteps(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return vm.None, ctx.Err()
		}
		return vm.Int(1), nil
	})
	src := `function fetch(n){
  RequestGet("u", "", "", r)
  return(r + n)
}
hs = []
startLoop(i, 1, 40)
  h = go(fetch, i)
  variableToList(h, hs)
endLoop()
s = 0
startLoop(i, 0, 39)
  itemFromList(hs, i, h)
  v = gather(h, 0)
  s = s + v
endLoop()
addResult(s)
`
	res, err := run(t, src, &vm.Input{Host: host}, vm.Limits{MaxSteps: 100_000})
	if err != nil {
		t.Fatalf("40 blocked tasks under MaxSteps 100,000: %v", err)
	}
	if string(res.Result) != `{"s":860}` {
		t.Errorf("result %s", res.Result)
	}
	if res.Stats.Steps > 5000 {
		t.Errorf("Stats.Steps = %d", res.Stats.Steps)
	}
}

// A Host call that fails inside try gives the machine's steps back
// (yieldSteps); the loop that catches it must not keep running on the
// steps it gave back: the run's steps stay within MaxSteps.
func TestReviewCaughtHostErrorKeepsStepBound(t *testing.T) {
	var calls atomic.Int64
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		calls.Add(1)
		return vm.None, errors.New("nope")
	})
	src := func(n string) string {
		return `function w(){
  startLoop(i, 1, ` + n + `)
    try()
      RequestGet("u", "", "", r)
    exception(e)
    end()
  endLoop()
  return(1)
}
h = go(w)
v = gather(h, 0)
`
	}
	r1, err := run(t, src("100"), &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := run(t, src("200"), &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	per := (r2.Stats.Steps - r1.Stats.Steps) / 100 // steps per iteration
	const limit = 50_000
	calls.Store(0)
	_, err = run(t, src("1000000000"), &vm.Input{Host: host}, vm.Limits{MaxSteps: limit})
	evalErr(t, err, vm.ErrStepLimit)
	if ran := calls.Load() * per; ran > limit {
		t.Errorf("%d iterations of %d steps ran: %d steps under MaxSteps %d", calls.Load(), per, ran, limit)
	}
}

// The snapshot a task starts with includes every global slot, also those
// the request's Variables add (one per key): that copy must be charged to
// the memory budget, or 200 tasks of a run whose Variables have 20,000 keys
// allocate hundreds of MiB under an 8 MiB budget.
func TestReviewSnapshotOfManyGlobalsCharged(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 20000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"v%d":%d`, i, i)
	}
	b.WriteString("}")
	in := &vm.Input{Variables: []byte(b.String())}
	p := compile(t, `function f(n){
  return(n)
}
startLoop(i, 1, 200)
  h = go(f, i)
endLoop()
`)
	lim := vm.Limits{MaxMemoryBytes: 8 << 20, MaxSteps: 1 << 30}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := vm.NewMachine().Run(context.Background(), p, in, lim)
	runtime.ReadMemStats(&after)
	if err != nil && !errors.Is(err, vm.ErrMemoryLimit) {
		t.Fatal(err)
	}
	// Decoding the Variables costs a few MiB; allow a small multiple of the budget.
	if got := after.TotalAlloc - before.TotalAlloc; got > 48<<20 {
		t.Errorf("run allocated %d MiB under a %d MiB memory budget (err %v)", got>>20, lim.MaxMemoryBytes>>20, err)
	}
}
