package syntax

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds returns the corpus programs, the error testdata and the table
// tests as seeds.
func fuzzSeeds(f *testing.F) {
	var paths []string
	for _, pattern := range []string{"testdata/corpus/*.avap", "testdata/errors/*.avap"} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, tt := range stmtTests {
		f.Add([]byte(tt.src))
	}
	for _, tt := range exprTests {
		f.Add([]byte("x = " + tt.src))
	}
}

func FuzzScan(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, mode := range []ScanMode{0, ScanComments} {
			var s Scanner
			errs := 0
			s.Init(src, func(Pos, string) { errs++ }, mode)
			last := Pos{Line: 1, Col: 1}
			for n := 0; ; n++ {
				if n > len(src)+2 {
					t.Fatalf("scanner does not advance")
				}
				pos, tok, lit := s.Scan()
				if pos.Line < last.Line || pos.Line == last.Line && pos.Col < last.Col {
					t.Fatalf("position went back: %s after %s", pos, last)
				}
				last = pos
				if tok == ILLEGAL && errs == 0 {
					t.Fatalf("ILLEGAL %q without an error", lit)
				}
				if tok == EOF {
					break
				}
			}
			if errs != s.ErrorCount {
				t.Fatalf("ErrorCount %d, handler saw %d", s.ErrorCount, errs)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.avap", src, Options{})
		if file == nil {
			t.Fatal("nil file")
		}
		Inspect(file, func(Node) bool { return true })
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error %T %v", err, err)
			}
			for i, e := range list {
				if !e.Pos.IsValid() || e.Msg == "" {
					t.Fatalf("bad error %q at %s", e.Msg, e.Pos)
				}
				if i > 0 && compareErrors(list[i-1], e) > 0 {
					t.Fatalf("errors not sorted")
				}
			}
			Format(file) // must not panic on a partial tree
			return
		}
		checkRoundTrip(t, "fuzz.avap", file)
	})
}
