package vm_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/vmtest"
)

// FuzzCompileRun compiles and runs arbitrary scripts under small limits.
// Invariants: nothing panics (a recovered internal error counts as a
// failure), every run ends, and every compiled program survives an
// encoding round trip.
//
//	go test ./vm -run '^$' -fuzz FuzzCompileRun -fuzztime 10m
func FuzzCompileRun(f *testing.F) {
	fsys := os.DirFS("testdata/conformance")
	fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".txtar") {
			return err
		}
		data, _ := fs.ReadFile(fsys, path)
		if c, err := vmtest.Parse(path, data); err == nil {
			f.Add(string(c.Script))
		}
		return nil
	})
	lim := vm.Limits{MaxSteps: 20000, Timeout: 2 * time.Second, MaxMemoryBytes: 1 << 20, MaxCallDepth: 50, MaxOutputBytes: 1 << 20}
	in := &vm.Input{
		Query:     []vm.Param{{Name: "a", Value: "1"}, {Name: "s", Value: "text"}, {Name: "j", Value: `{"k": [1, 2]}`}},
		Variables: []byte(`{"v": [1, "x", {"y": null}]}`),
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := vm.Compile("fuzz.avap", []byte(src), vm.CompileOptions{})
		if err != nil {
			return
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		if p, err = vm.UnmarshalProgram(b); err != nil {
			t.Fatalf("UnmarshalProgram: %v", err)
		}
		_, err = vm.NewMachine().Run(context.Background(), p, in, lim)
		if errors.Is(err, vm.ErrInternal) {
			var ee *vm.EvalError
			errors.As(err, &ee)
			t.Fatalf("internal error: %v\n%s", err, ee.GoStack)
		}
	})
}
