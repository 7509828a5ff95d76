// Command benchgate fails a CI job when benchmarks got slower: it compares
// two `go test -bench -count N` outputs (base and head) and exits 1 when a
// benchmark's median ns/op (or allocs/op) grew by more than -threshold and
// the samples do not overlap (every head sample is worse than every base
// sample), which keeps a noisy runner from failing on chance. benchstat
// prints the human-readable comparison next to it in CI.
//
//	benchgate [-threshold 0.10] base.txt head.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	threshold := fs.Float64("threshold", 0.10, "largest allowed slowdown of the median, as a fraction")
	minSamples := fs.Int("min-samples", 3, "benchmarks with fewer samples on either side are reported, not gated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: benchgate [-threshold 0.10] base.txt head.txt")
		return 2
	}
	base, err := parseFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "benchgate:", err)
		return 2
	}
	head, err := parseFile(fs.Arg(1))
	if err != nil {
		fmt.Fprintln(stderr, "benchgate:", err)
		return 2
	}
	regs := compare(base, head, *threshold, *minSamples, stdout)
	if len(regs) > 0 {
		fmt.Fprintf(stdout, "\nFAIL: %d regression(s) beyond %.0f%%:\n", len(regs), *threshold*100)
		for _, r := range regs {
			fmt.Fprintln(stdout, "  "+r)
		}
		return 1
	}
	fmt.Fprintf(stdout, "\nok: no regression beyond %.0f%%\n", *threshold*100)
	return 0
}

// samples maps "pkg.BenchmarkName metric" to its values.
type samples map[string][]float64

func parseFile(path string) (samples, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

// parse reads `go test -bench` output. Each result line is
// "BenchmarkX-8  N  v1 unit1  v2 unit2 ..."; "pkg:" lines qualify names.
func parse(r io.Reader) (samples, error) {
	s := samples{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop the GOMAXPROCS suffix
			}
		}
		if pkg != "" {
			name = pkg + "." + name
		}
		for i := 2; i+1 < len(f); i += 2 {
			unit := f[i+1]
			if unit != "ns/op" && unit != "allocs/op" {
				continue
			}
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", line, err)
			}
			s[name+" "+unit] = append(s[name+" "+unit], v)
		}
	}
	return s, sc.Err()
}

func median(v []float64) float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// compare prints one line per benchmark present on both sides and returns
// the regressions.
func compare(base, head samples, threshold float64, minSamples int, w io.Writer) []string {
	keys := make([]string, 0, len(head))
	for k := range head {
		if _, ok := base[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var regs []string
	fmt.Fprintf(w, "%-70s %14s %14s %8s\n", "benchmark", "base median", "head median", "delta")
	for _, k := range keys {
		b, h := base[k], head[k]
		mb, mh := median(b), median(h)
		delta := 0.0
		if mb > 0 {
			delta = mh/mb - 1
		} else if mh > 0 {
			delta = 1
		}
		note := ""
		gated := len(b) >= minSamples && len(h) >= minSamples
		// allocs/op is deterministic enough to gate on the median alone.
		separated := slices.Min(h) > slices.Max(b) || strings.HasSuffix(k, "allocs/op")
		switch {
		case !gated:
			note = " (too few samples, not gated)"
		case delta > threshold && separated:
			note = " REGRESSION"
			regs = append(regs, fmt.Sprintf("%s: %.4g -> %.4g (%+.1f%%)", k, mb, mh, delta*100))
		case delta > threshold:
			note = " (samples overlap, not gated)"
		}
		fmt.Fprintf(w, "%-70s %14.4g %14.4g %+7.1f%%%s\n", k, mb, mh, delta*100, note)
	}
	return regs
}
