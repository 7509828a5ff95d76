package pytime

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestCPythonGolden replays random cases that testdata/gen_cpython.py ran
// through CPython 3.11: formatting output, parse results and error texts.
func TestCPythonGolden(t *testing.T) {
	f, err := os.Open("testdata/cpython.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		var c struct {
			K, L, O, V string
			T          []int
			R          []*int
			E          *string
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if c.K == "f" {
			tm := time.Date(c.T[0], time.Month(c.T[1]), c.T[2], c.T[3], c.T[4], c.T[5], c.T[6]*1000, time.UTC)
			if got, err := Format(tm, c.L); err != nil || got != c.O {
				t.Errorf("line %d: Format(%v, %q) = %q, %v; want %q", n, tm, c.L, got, err, c.O)
			}
			continue
		}
		got, err := Parse(c.V, c.L, time.UTC)
		switch {
		case c.E != nil:
			if err == nil || err.Error() != *c.E {
				t.Errorf("line %d: Parse(%q, %q) = %v, %v; want error %q", n, c.V, c.L, got, err, *c.E)
			}
		case err != nil:
			t.Errorf("line %d: Parse(%q, %q): %v", n, c.V, c.L, err)
		default:
			w := c.R
			_, off := got.Zone()
			if got.Year() != *w[0] || int(got.Month()) != *w[1] || got.Day() != *w[2] ||
				got.Hour() != *w[3] || got.Minute() != *w[4] || got.Second() != *w[5] ||
				got.Nanosecond()/1000 != *w[6] || (w[7] != nil && off != *w[7]) {
				t.Errorf("line %d: Parse(%q, %q) = %v", n, c.V, c.L, got)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("only %d cases", n)
	}
}
