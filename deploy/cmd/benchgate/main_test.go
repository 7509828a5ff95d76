package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const baseOut = `goos: linux
pkg: github.com/avapmesh/avap/vm
BenchmarkRun-2     	  100000	      1000 ns/op	     64 B/op	       2 allocs/op
BenchmarkRun-2     	  100000	      1010 ns/op	     64 B/op	       2 allocs/op
BenchmarkRun-2     	  100000	       990 ns/op	     64 B/op	       2 allocs/op
BenchmarkNoisy-2   	  100000	      1000 ns/op
BenchmarkNoisy-2   	  100000	      1500 ns/op
BenchmarkNoisy-2   	  100000	      1000 ns/op
PASS
`

func write(t *testing.T, name, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGate(t *testing.T) {
	for _, c := range []struct {
		name, head string
		code       int
		want       string
	}{
		{"same", baseOut, 0, "ok: no regression"},
		{"slower", strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(baseOut,
			"1000 ns/op	     64", "1300 ns/op	     64"), "1010 ns/op", "1310 ns/op"), " 990 ns/op", "1290 ns/op"),
			1, "BenchmarkRun ns/op: 1000 -> 1300"},
		{"more allocs", strings.ReplaceAll(baseOut, "2 allocs/op", "3 allocs/op"), 1, "allocs/op: 2 -> 3"},
		{"overlapping noise", strings.ReplaceAll(baseOut, "      1000 ns/op\n", "      1400 ns/op\n"), 0, "samples overlap"},
		{"faster", strings.ReplaceAll(baseOut, "1010 ns/op", "500 ns/op"), 0, "ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{write(t, "base", baseOut), write(t, "head", c.head)}, &out, &errb)
			if code != c.code || !strings.Contains(out.String(), c.want) {
				t.Errorf("code %d (want %d), output:\n%s%s\nwant %q", code, c.code, out.String(), errb.String(), c.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"only-one"}, &out, &errb); code != 2 {
		t.Errorf("code %d, want 2", code)
	}
}
