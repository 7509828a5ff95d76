package vm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
)

// sleepHost makes RequestGet take d.
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

func TestGatherMerges(t *testing.T) {
	src := `x = 1
go_async(t1)
  y = x + 1
  x = 100
  _hidden = 5
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
addResult(y)
addResult(r)
`
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"seen":1,"x":100,"y":2,"r":42}`; string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
	if strings.Contains(string(res.Variables), "_hidden") {
		t.Errorf("_ variable merged: %s", res.Variables)
	}
}

func TestGatherTimeout(t *testing.T) {
	src := `go_async(slow)
  RequestGet("u", "", "", r)
  z = 1
end()
try()
  gather(slow, 0.01)
exception(e)
end()
function g(){
  RequestGet("u", "", "", r)
  return(7)
}
h = go(g)
try()
  v = gather(h, 10)
exception(e2)
end()
h2 = go(g)
ok = gather(h2, 5000)
go_async(fine)
  RequestGet("u", "", "", r)
  w = 2
end()
gather(fine, 1)
addResult(e)
addResult(e2)
addResult(ok)
addResult(w)
`
	res, err := run(t, src, &vm.Input{Host: sleepHost(60 * time.Millisecond)}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"e":"gather: task 'slow' did not finish within 0.01s","e2":"gather: task 'go:1' did not finish within 10ms","ok":7,"w":2}`
	if string(res.Result) != want {
		t.Errorf("result = %s\nwant %s", res.Result, want)
	}
	if strings.Contains(string(res.Variables), `"z"`) {
		t.Errorf("timed-out block merged: %s", res.Variables)
	}
	// The main flow between the end of the task and gather counts as
	// overlap: the same slow task gathered after as much main work is fine.
	res, err = run(t, `go_async(t)
  RequestGet("u", "", "", r)
end()
RequestGet("u", "", "", r2)
gather(t, 0.05)
ok = 1
addResult(ok)
`, &vm.Input{Host: sleepHost(60 * time.Millisecond)}, vm.Limits{})
	if err != nil || string(res.Result) != `{"ok":1}` {
		t.Errorf("overlap: %v %v", res, err)
	}
}

// TestRunawayTask: a task that never ends is stopped by the run's limits,
// which it shares.
func TestRunawayTask(t *testing.T) {
	src := `go_async(loop)
  startLoop(i, 1, 1000000000)
    x = i
  endLoop()
end()
gather(loop, 0.1)
`
	start := time.Now()
	_, err := run(t, src, nil, vm.Limits{Timeout: 100 * time.Millisecond, MaxSteps: 1 << 40})
	if !errors.Is(err, vm.ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("time limit: %v after %v", err, time.Since(start))
	}
	_, err = run(t, src, nil, vm.Limits{MaxSteps: 10_000})
	if !errors.Is(err, vm.ErrStepLimit) {
		t.Errorf("step limit: %v", err)
	}
	_, err = run(t, `go_async(big)
  s = "x"
  startLoop(i, 1, 40)
    s = s + s
  endLoop()
end()
`, nil, vm.Limits{MaxMemoryBytes: 1 << 20})
	if !errors.Is(err, vm.ErrMemoryLimit) {
		t.Errorf("memory limit: %v", err)
	}
}
