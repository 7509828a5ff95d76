package vm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/vmtest"
)

func compile(t testing.TB, src string) *vm.Program {
	t.Helper()
	p, err := vm.Compile("main.avap", []byte(src), vm.CompileOptions{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func run(t testing.TB, src string, in *vm.Input, lim vm.Limits) (*vm.Result, error) {
	t.Helper()
	return vm.NewMachine().Run(context.Background(), compile(t, src), in, lim)
}

func evalErr(t *testing.T, err error, sentinel error) *vm.EvalError {
	t.Helper()
	var ee *vm.EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("want *EvalError, got %T %v", err, err)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
	if !ee.Pos.IsValid() {
		t.Errorf("error without position: %v", err)
	}
	return ee
}

const endless = `
n = 0
startLoop(i, 1, 1000000000000000)
  n = n + 1
endLoop()
`

func TestStepLimit(t *testing.T) {
	res, err := run(t, endless, nil, vm.Limits{MaxSteps: 5000})
	if res != nil {
		t.Fatal("result on error")
	}
	ee := evalErr(t, err, vm.ErrStepLimit)
	if ee.Pos.Line != 4 && ee.Pos.Line != 3 {
		t.Errorf("pos = %v, want inside the loop", ee.Pos)
	}
}

func TestTimeout(t *testing.T) {
	start := time.Now()
	_, err := run(t, endless, nil, vm.Limits{MaxSteps: 1 << 62, Timeout: 30 * time.Millisecond})
	evalErr(t, err, vm.ErrTimeout)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

// TestCancelLatency checks that a Cancel from another goroutine is observed
// quickly (the dispatch loop loads the flag once per instruction). The
// bound is generous for loaded CI machines; the latency is logged.
func TestCancelLatency(t *testing.T) {
	p := compile(t, endless)
	m := vm.NewMachine()
	var canceled time.Time
	done := make(chan error, 1)
	go func() {
		_, err := m.Run(context.Background(), p, nil, vm.Limits{MaxSteps: 1 << 62, Timeout: time.Minute})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	canceled = time.Now()
	m.Cancel(nil)
	select {
	case err := <-done:
		lat := time.Since(canceled)
		t.Logf("cancel observed after %v", lat)
		evalErr(t, err, vm.ErrCanceled)
		if lat > 500*time.Millisecond {
			t.Errorf("cancel latency %v", lat)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after Cancel")
	}
}

func TestContext(t *testing.T) {
	p := compile(t, endless)
	lim := vm.Limits{MaxSteps: 1 << 62, Timeout: time.Minute}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := vm.NewMachine().Run(ctx, p, nil, lim)
	evalErr(t, err, vm.ErrTimeout)

	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel2)
	_, err = vm.NewMachine().Run(ctx2, p, nil, lim)
	evalErr(t, err, vm.ErrCanceled)

	// Already canceled before the run starts.
	_, err = vm.NewMachine().Run(ctx2, p, nil, lim)
	if !errors.Is(err, vm.ErrCanceled) {
		t.Fatalf("got %v", err)
	}

	// A custom cause is kept.
	cause := errors.New("draining")
	ctx3, cancel3 := context.WithCancelCause(context.Background())
	time.AfterFunc(10*time.Millisecond, func() { cancel3(cause) })
	_, err = vm.NewMachine().Run(ctx3, p, nil, lim)
	if !errors.Is(err, vm.ErrCanceled) || !errors.Is(err, cause) {
		t.Fatalf("got %v", err)
	}
}

func TestStaleCancelDoesNotLeak(t *testing.T) {
	m := vm.NewMachine()
	m.Cancel(nil) // between runs: no effect
	p := compile(t, "x = 1\naddResult(x)\n")
	for i := 0; i < 3; i++ {
		if _, err := m.Run(context.Background(), p, nil, vm.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCallDepth(t *testing.T) {
	src := "function f(n) {\n  return(f(n + 1))\n}\nx = f(0)\n"
	_, err := run(t, src, nil, vm.Limits{MaxCallDepth: 100})
	ee := evalErr(t, err, vm.ErrCallDepth)
	if len(ee.Stack) != 100 {
		t.Errorf("stack has %d frames, want 100", len(ee.Stack))
	}
	if ee.Stack[0].Func != "" || ee.Stack[1].Func != "f" {
		t.Errorf("frames = %+v", ee.Stack[:2])
	}
	// Default depth too, without growing the Go stack.
	_, err = run(t, src, nil, vm.Limits{})
	evalErr(t, err, vm.ErrCallDepth)
}

func TestErrorStack(t *testing.T) {
	src := `function inner(x) {
  return(x / 0)
}
function outer(x) {
  return(inner(x) + 1)
}
r = outer(1)
`
	_, err := run(t, src, nil, vm.Limits{})
	ee := evalErr(t, err, nil)
	want := []vm.Frame{
		{Func: "", Pos: ee.Stack[0].Pos},
		{Func: "outer", Pos: ee.Stack[1].Pos},
		{Func: "inner", Pos: ee.Stack[2].Pos},
	}
	if len(ee.Stack) != 3 {
		t.Fatalf("stack = %+v", ee.Stack)
	}
	for i := range want {
		if ee.Stack[i].Func != want[i].Func {
			t.Errorf("frame %d = %+v", i, ee.Stack[i])
		}
	}
	if got := fmt.Sprint(ee.Stack[0].Pos.Line, ee.Stack[1].Pos.Line, ee.Stack[2].Pos.Line); got != "7 5 2" {
		t.Errorf("frame lines = %s", got)
	}
	if ee.Error() != "main.avap:2:12: division by zero" {
		t.Errorf("Error() = %q", ee.Error())
	}
	bt := ee.Backtrace()
	if !strings.Contains(bt, "at inner (main.avap:2:12)") || !strings.Contains(bt, "at <main> (main.avap:7:") {
		t.Errorf("Backtrace:\n%s", bt)
	}
}

// heapGrowth runs f and returns how much the heap in use grew.
func totalAlloc(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestMemoryBombs(t *testing.T) {
	const budget = 4 << 20
	bigJSON := `{"a": [` + strings.Repeat(`"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",`, 200000) + `1]}`
	cases := []struct {
		name string
		src  string
		in   *vm.Input
	}{
		{"string doubling", "s = \"x\"\nstartLoop(i, 1, 200)\n  s = s + s\nendLoop()\n", nil},
		{"list doubling", "l = [1]\nstartLoop(i, 1, 200)\n  l = l + l\nendLoop()\n", nil},
		{"list growth", "startLoop(i, 1, 100000000)\n  variableToList(i, L)\nendLoop()\n", nil},
		{"repeat", "s = \"abc\" * 1000000000\n", nil},
		{"list repeat", "l = [1, 2] * 1000000000\n", nil},
		{"template", "s = \"x\" * 1000000\nstartLoop(i, 1, 100)\n  s = `${s}${s}`\nendLoop()\n", nil},
		{"format", "s = \"%s%s\" % (\"x\" * 3000000, \"y\" * 3000000)\n", nil},
		{"json variables", "x = 1\n", &vm.Input{Variables: json.RawMessage(bigJSON)}},
		{"json param", "addParam(p, v)\n", &vm.Input{Query: []vm.Param{{Name: "p", Value: bigJSON}}}},
		{"json from string", "variableFromJSON(s, a, v)\n", &vm.Input{Variables: mustJSON(t, map[string]string{"s": bigJSON})}},
		{"dict growth", "startLoop(i, 1, 100000000)\n  AddvariableToJSON(`k${i}`, i, d)\nendLoop()\n", nil},
		{"replace", "s = \"a\" * 100000\nreplace(s, \"a\", \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", r)\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			grew := totalAlloc(func() {
				_, err = run(t, c.src, c.in, vm.Limits{MaxMemoryBytes: budget, MaxSteps: 1 << 40})
			})
			evalErr(t, err, vm.ErrMemoryLimit)
			// The input itself may be decoded once; the script must not
			// allocate far past its budget.
			if limit := uint64(12*budget + 3*len(bigJSON)); grew > limit {
				t.Errorf("allocated %d bytes for a %d budget", grew, budget)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOutputLimit(t *testing.T) {
	_, err := run(t, "s = \"x\" * 10000\naddResult(s)\n", nil, vm.Limits{MaxOutputBytes: 1000})
	evalErr(t, err, vm.ErrOutputLimit)
	_, err = run(t, "startLoop(i, 1, 10000)\n  addLog(\"line\")\nendLoop()\n", nil, vm.Limits{MaxOutputBytes: 1000})
	evalErr(t, err, vm.ErrOutputLimit)
	res, err := run(t, "s = \"x\" * 100\naddResult(s)\n", nil, vm.Limits{MaxOutputBytes: 1000})
	if err != nil || !strings.Contains(string(res.Result), "xxxx") {
		t.Fatalf("res=%v err=%v", res, err)
	}
}

func TestNestingBomb(t *testing.T) {
	src := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	_, err := vm.Compile("main.avap", []byte("x = "+src+"\n"), vm.CompileOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	// Cyclic values: printing or copying them is an error, not a crash.
	_, err = run(t, "L = [1]\nvariableToList(L, L)\ns = str(L)\n", nil, vm.Limits{})
	evalErr(t, err, nil)
	_, err = run(t, "L = [1]\nvariableToList(L, L)\naddResult(L)\n", nil, vm.Limits{})
	evalErr(t, err, nil)
}

// hostFunc adapts a function to vm.Host.
type hostFunc func(ctx context.Context, command string, args []vm.Value) (vm.Value, error)

func (f hostFunc) Call(ctx context.Context, command string, args []vm.Value) (vm.Value, error) {
	return f(ctx, command, args)
}

func TestHost(t *testing.T) {
	var calls []string
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		var parts []string
		for _, a := range args {
			b, _ := a.MarshalJSON()
			parts = append(parts, string(b))
		}
		calls = append(calls, cmd+"("+strings.Join(parts, ",")+")")
		switch cmd {
		case "RequestGet":
			d := vm.NewDict(1)
			d.Set("status", vm.Int(200))
			return d, nil
		case "ormDirect":
			return vm.None, errors.New("db down")
		}
		return vm.String("ok"), nil
	})
	src := `url = "http://x"
RequestGet(url, "", "", r1)
r2 = RequestGet(url, q, , "")
try()
  ormDirect("SELECT 1", rows)
exception(e)
end()
addResult(r1)
addResult(r2)
addResult(e)
`
	res, err := run(t, src, &vm.Input{Host: host}, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"r1":{"status":200},"r2":{"status":200},"e":"ormDirect: db down"}`
	if string(res.Result) != want {
		t.Errorf("result = %s, want %s", res.Result, want)
	}
	wantCalls := []string{
		`RequestGet("http://x","","","r1")`,
		`RequestGet("http://x","q",null,"")`,
		`ormDirect("SELECT 1","rows")`,
	}
	if fmt.Sprint(calls) != fmt.Sprint(wantCalls) {
		t.Errorf("calls = %q\nwant %q", calls, wantCalls)
	}
}

func TestHostPanic(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		panic("boom in host")
	})
	p := compile(t, "x = 1\ntry()\n  RequestGet(\"u\", \"\", \"\", r)\nexception(e)\nend()\n")
	m := vm.NewMachine()
	_, err := m.Run(context.Background(), p, &vm.Input{Host: host}, vm.Limits{})
	ee := evalErr(t, err, vm.ErrInternal)
	if !strings.Contains(ee.Msg, "boom in host") || !strings.Contains(ee.GoStack, "TestHostPanic") {
		t.Errorf("msg=%q stack=%q", ee.Msg, ee.GoStack)
	}
	if ee.Pos.Line != 3 {
		t.Errorf("pos = %v", ee.Pos)
	}
	// The machine is still usable.
	res, err := m.Run(context.Background(), compile(t, "y = 2\naddResult(y)\n"), nil, vm.Limits{})
	if err != nil || string(res.Result) != `{"y":2}` {
		t.Fatalf("reuse: %v %v", res, err)
	}
}

func TestHostTimeout(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		<-ctx.Done()
		return vm.None, ctx.Err()
	})
	_, err := run(t, "RequestGet(\"u\", \"\", \"\", r)\n", &vm.Input{Host: host}, vm.Limits{Timeout: 30 * time.Millisecond})
	evalErr(t, err, vm.ErrTimeout)
}

func TestNoHost(t *testing.T) {
	_, err := run(t, "RequestGet(\"u\", \"\", \"\", r)\n", nil, vm.Limits{})
	ee := evalErr(t, err, vm.ErrNotAvailable)
	if ee.Msg != "RequestGet is not available on this server" {
		t.Errorf("msg = %q", ee.Msg)
	}
	_, err = run(t, "nope()\n", nil, vm.Limits{})
	evalErr(t, err, vm.ErrUnknownCommand)
}

func TestProgramInfo(t *testing.T) {
	p := compile(t, "addVar(a, str(1))\nif(a, 1, =)\n  RequestGet(\"u\", \"\", \"\", r)\nend()\nmystery()\nfunction f() {\n  return(len(\"x\"))\n}\n")
	if got := fmt.Sprint(p.Commands()); got != "[RequestGet addVar len mystery str]" {
		t.Errorf("Commands = %s", got)
	}
	if p.SideEffectFree() {
		t.Error("SideEffectFree with RequestGet")
	}
	if !compile(t, "x = 1\n").SideEffectFree() {
		t.Error("not SideEffectFree")
	}
	if p.Name() != "main.avap" || p.Hash() == [32]byte{} {
		t.Error("name/hash")
	}
}

func TestCompileErrors(t *testing.T) {
	src := "addVar(a, 1\nx = (2 +\ny = ]\n"
	_, err := vm.Compile("bad.avap", []byte(src), vm.CompileOptions{})
	text := vmtest.ErrorText(err)
	lines := strings.Split(text, "\n")
	if len(lines) < 3 {
		t.Fatalf("want 3 errors, got:\n%s", text)
	}
	for i, l := range lines[:3] {
		if !strings.HasPrefix(l, fmt.Sprintf("bad.avap:%d:", i+1)) {
			t.Errorf("error %d = %q", i, l)
		}
	}
	_, err = vm.Compile("big.avap", bytes.Repeat([]byte("x = 1\n"), 1000), vm.CompileOptions{MaxSourceBytes: 100})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("size cap: %v", err)
	}
}

// TestConcurrentMachines runs one shared Program on many pooled machines
// at once, each with its own input, and checks every result.
func TestConcurrentMachines(t *testing.T) {
	p := compile(t, `addParam(n, n)
addParam(name, who)
total = 0
startLoop(i, 1, n)
  total = total + i
endLoop()
variableToList(who, names)
AddvariableToJSON(who, total, out)
msg = "%s:%d" % (who, total)
addResult(msg)
addResult(out)
`)
	pool := sync.Pool{New: func() any { return vm.NewMachine() }}
	workers, per := 8, 40
	if testing.Short() {
		per = 10
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*per)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				n := w*100 + i
				who := fmt.Sprintf("w%d_%d", w, i)
				m := pool.Get().(*vm.Machine)
				res, err := m.Run(context.Background(), p, &vm.Input{Query: []vm.Param{{Name: "n", Value: fmt.Sprint(n)}, {Name: "name", Value: who}}}, vm.Limits{})
				pool.Put(m)
				if err != nil {
					errs <- err
					return
				}
				sum := n * (n + 1) / 2
				want := fmt.Sprintf(`{"msg":"%s:%d","out":{"%s":%d}}`, who, sum, who, sum)
				if string(res.Result) != want {
					errs <- fmt.Errorf("got %s want %s", res.Result, want)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMachineReuseIsolation(t *testing.T) {
	m := vm.NewMachine()
	a := compile(t, "secret = \"a\"\nbig = [1, 2, 3]\n_status = 201\n")
	b := compile(t, "addResult(secret)\nx = 1\n")
	if _, err := m.Run(context.Background(), a, &vm.Input{Variables: json.RawMessage(`{"seed": 1}`)}, vm.Limits{}); err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(context.Background(), b, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Result) != `{"secret":null}` || string(res.Variables) != `{"x":1}` || res.Status != 0 {
		t.Errorf("leak: %s %s %d", res.Result, res.Variables, res.Status)
	}
}

// TestEncoding round-trips every conformance script through MarshalBinary
// and checks that damaged encodings are rejected without panics.
func TestEncoding(t *testing.T) {
	fsys := os.DirFS("testdata/conformance")
	n := 0
	fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".txtar") {
			return err
		}
		data, _ := fs.ReadFile(fsys, path)
		c, err := vmtest.Parse(path, data)
		if err != nil {
			t.Fatal(err)
		}
		p, err := vm.Compile("main.avap", c.Script, vm.CompileOptions{})
		if err != nil {
			return nil
		}
		n++
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:4]) != "AVBC" {
			t.Fatalf("magic %q", b[:4])
		}
		p2, err := vm.UnmarshalProgram(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b2, _ := p2.MarshalBinary()
		if !bytes.Equal(b, b2) || p2.Hash() != p.Hash() || p2.Name() != p.Name() ||
			fmt.Sprint(p2.Commands()) != fmt.Sprint(p.Commands()) || p2.SideEffectFree() != p.SideEffectFree() {
			t.Fatalf("%s: round trip differs", path)
		}
		// Damaged encodings: truncation and byte flips.
		for i := 0; i < len(b); i += 1 + len(b)/40 {
			if _, err := vm.UnmarshalProgram(b[:i]); err == nil {
				t.Fatalf("%s: truncated at %d accepted", path, i)
			}
			bad := append([]byte(nil), b...)
			bad[i] ^= 0x5a
			if p3, err := vm.UnmarshalProgram(bad); err == nil {
				// Accepted (e.g. a changed constant): it must run safely.
				vm.NewMachine().Run(context.Background(), p3, nil, vm.Limits{MaxSteps: 10000})
			}
		}
		return nil
	})
	if n < 50 {
		t.Fatalf("only %d programs", n)
	}
	if _, err := vm.UnmarshalProgram([]byte("AVBC\x63")); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("version check: %v", err)
	}
}

func TestValues(t *testing.T) {
	v, err := vm.FromGo(map[string]any{"b": []any{int64(1), 2.5, "x", nil, true}, "a": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.MarshalJSON()
	if string(b) != `{"a":{},"b":[1,2.5,"x",null,true]}` {
		t.Errorf("json = %s", b)
	}
	if got := fmt.Sprint(v.ToGo()); got != "map[a:map[] b:[1 2.5 x <nil> true]]" {
		t.Errorf("ToGo = %s", got)
	}
	j, err := vm.ParseJSON([]byte(`{"z": 1, "a": [1.0, "é"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(j.Keys()) != "[z a]" || j.Len() != 2 {
		t.Errorf("keys %v", j.Keys())
	}
	av, _ := j.Get("a")
	if av.Index(0).Kind() != vm.KindFloat || av.Index(1).AsString() != "é" {
		t.Errorf("a = %v", av.ToGo())
	}
	if fb, _ := vm.Float(120).MarshalJSON(); string(fb) != "120.0" {
		t.Errorf("float json %s", fb)
	}
}

// TestDeps enforces "vm: standard library only".
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "github.com/avapmesh/avap/vm") {
			t.Errorf("vm depends on non-standard package %s", pkg)
		}
	}
}

func TestHostResultCharged(t *testing.T) {
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		return vm.String(strings.Repeat("x", 1<<20)), nil
	})
	_, err := run(t, "RequestGet(\"u\", \"\", \"\", r)\n", &vm.Input{Host: host}, vm.Limits{MaxMemoryBytes: 1 << 19})
	evalErr(t, err, vm.ErrMemoryLimit)
}

func TestValueString(t *testing.T) {
	v, _ := vm.FromGo([]any{"a", 1, 2.0, nil, true, map[string]any{"k": "v"}})
	if got := v.String(); got != "['a', 1, 2.0, None, True, {'k': 'v'}]" {
		t.Errorf("String = %q", got)
	}
	if got := fmt.Sprint(vm.String("x"), vm.Int(3)); got != "x 3" {
		t.Errorf("Sprint = %q", got)
	}
}

// TestLongChains: left-nested operator chains compile iteratively (no
// nesting error, no quadratic folding) and run correctly.
func TestLongChains(t *testing.T) {
	const n = 20000
	src := "x = " + strings.Repeat("1 + ", n) + "1\ny = " + strings.Repeat("x + ", n) + "x\nz = " + strings.Repeat("True and ", 1000) + "\"last\"\n"
	res, err := run(t, src, nil, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"x":%d,"y":%d,"z":"last"}`, n+1, (n+1)*(n+1))
	if string(res.Variables) != want {
		t.Errorf("variables = %s, want %s", res.Variables, want)
	}
}

func TestCancelDuringHostCall(t *testing.T) {
	started := make(chan struct{})
	host := hostFunc(func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
		close(started)
		<-ctx.Done()
		return vm.None, ctx.Err()
	})
	m := vm.NewMachine()
	p := compile(t, "RequestGet(\"u\", \"\", \"\", r)\n")
	go func() {
		<-started
		m.Cancel(nil)
	}()
	_, err := m.Run(context.Background(), p, &vm.Input{Host: host}, vm.Limits{Timeout: time.Minute})
	evalErr(t, err, vm.ErrCanceled)
}

// TestPathParams: a deployed route's path parameters come first in
// addParam's lookup and stay out of getQueryParamList.
func TestPathParams(t *testing.T) {
	in := &vm.Input{
		Path:  []vm.Param{{Name: "id", Value: "42"}},
		Query: []vm.Param{{Name: "id", Value: "7"}, {Name: "x", Value: "1"}},
	}
	res, err := run(t, "addParam(id, id)\ngetQueryParamList(q)\naddResult(id)\naddResult(q)\n", in, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Result); got != `{"id":42,"q":[{"id":"7"},{"x":"1"}]}` {
		t.Errorf("result %s", got)
	}
}
