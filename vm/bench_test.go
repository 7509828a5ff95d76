package vm_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/avapmesh/avap/vm"
	"github.com/d5/tengo/v2"
	lua "github.com/yuin/gopher-lua"
)

// The same two programs in AVAP, Lua (gopher-lua) and Tengo, measured side
// by side:
//
//	go test ./vm -run '^$' -bench 'Fib|Loop' -benchmem
const (
	avapFib = `
function fib(n) {
  if(n, 2, "<")
    return(n)
  end()
  return(fib(n - 1) + fib(n - 2))
}
r = fib(25)
`
	avapLoop = `
total = 0
startLoop(i, 1, 1000000)
  total = total + i
endLoop()
`
	luaFib = `
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
r = fib(25)
`
	luaLoop = `
local total = 0
for i = 1, 1000000 do
  total = total + i
end
r = total
`
	tengoFib = `
fib := func(n) {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
r := fib(25)
`
	tengoLoop = `
total := 0
for i := 1; i <= 1000000; i++ {
  total = total + i
}
`
)

// cpuMetric reports the CPU time of the benchmark's thread per operation
// as "cpu-ns/op" next to the wall-clock ns/op (call it before the loop,
// run the returned func after it).
func cpuMetric(b *testing.B) func() {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return func() {
		end, ok2 := threadCPU()
		runtime.UnlockOSThread()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func benchAVAP(b *testing.B, src, check string, want int64) {
	p, err := vm.Compile("bench.avap", []byte(src), vm.CompileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m := vm.NewMachine()
	lim := vm.Limits{MaxSteps: 1 << 40, Timeout: 1 << 40}
	ctx := context.Background()
	res, err := m.Run(ctx, p, nil, lim)
	if err != nil {
		b.Fatal(err)
	}
	if want := fmt.Sprintf("%q:%d", check, want); !strings.Contains(string(res.Variables), want) {
		b.Fatalf("variables %s, want %s", res.Variables, want)
	}
	b.ResetTimer()
	defer cpuMetric(b)()
	for b.Loop() {
		if _, err := m.Run(ctx, p, nil, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func benchLua(b *testing.B, src string) {
	defer cpuMetric(b)()
	for b.Loop() {
		L := lua.NewState()
		if err := L.DoString(src); err != nil {
			b.Fatal(err)
		}
		L.Close()
	}
}

func benchTengo(b *testing.B, src string) {
	s := tengo.NewScript([]byte(src))
	c, err := s.Compile()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	defer cpuMetric(b)()
	for b.Loop() {
		if err := c.Clone().Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFib(b *testing.B) {
	b.Run("avap", func(b *testing.B) { benchAVAP(b, avapFib, "r", 75025) })
	b.Run("gopher-lua", func(b *testing.B) { benchLua(b, luaFib) })
	b.Run("tengo", func(b *testing.B) { benchTengo(b, tengoFib) })
}

func BenchmarkLoop(b *testing.B) {
	b.Run("avap", func(b *testing.B) { benchAVAP(b, avapLoop, "total", 500000500000) })
	b.Run("gopher-lua", func(b *testing.B) { benchLua(b, luaLoop) })
	b.Run("tengo", func(b *testing.B) { benchTengo(b, tengoLoop) })
}

// A typical request script.
const requestScript = `addParam(user, u)
addParam(qty, q)
if(q, None, "=")
  addVar(q, 1)
end()
price = 9.5
total = price * q
msg = "Hello " + u
AddvariableToJSON("user", u, order)
AddvariableToJSON("total", total, order)
addResult(order)
addResult(msg)
`

var requestInput = &vm.Input{Query: []vm.Param{{Name: "user", Value: "ann"}, {Name: "qty", Value: "3"}}}

// BenchmarkRequestScript measures a typical request: compile+run, and a
// run of cached bytecode on a pooled machine.
//
//	go test ./vm -run '^$' -bench RequestScript -benchmem
func BenchmarkRequestScript(b *testing.B) {
	ctx := context.Background()
	b.Run("compile+run", func(b *testing.B) {
		m := vm.NewMachine()
		b.ReportAllocs()
		defer cpuMetric(b)()
		for b.Loop() {
			p, err := vm.Compile("main.avap", []byte(requestScript), vm.CompileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.Run(ctx, p, requestInput, vm.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compile", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuMetric(b)()
		for b.Loop() {
			if _, err := vm.Compile("main.avap", []byte(requestScript), vm.CompileOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		p, err := vm.Compile("main.avap", []byte(requestScript), vm.CompileOptions{})
		if err != nil {
			b.Fatal(err)
		}
		m := vm.NewMachine()
		res, err := m.Run(ctx, p, requestInput, vm.Limits{})
		if err != nil || string(res.Result) != `{"order":{"user":"ann","total":28.5},"msg":"Hello ann"}` {
			b.Fatalf("%s %v", res.Result, err)
		}
		b.ReportAllocs()
		defer cpuMetric(b)()
		for b.Loop() {
			if _, err := m.Run(ctx, p, requestInput, vm.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
