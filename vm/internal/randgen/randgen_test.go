package randgen

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// seeded returns a deterministic randomness source for reproducible tests.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

func TestGenerateClasses(t *testing.T) {
	patterns := []string{
		"[A-Za-z0-9]", "[a-f0-9]", `\d`, `\w`, `\s`, "[^a-z]", ".", `\D`, `\W`, `\S`,
		"[^A-Za-z0-9]", "x", "[áéíóú]", `\pL`, `\p{Greek}`, "(?i)k", "[[:upper:]]", "[^\\x00-\\x{60}]",
		`(?s).`,
	}
	for _, p := range patterns {
		re := regexp.MustCompile(`^(?:` + p + `)$`)
		for _, n := range []int{0, 1, 7, 500} {
			s, err := Generate(p, n, seeded(byte(n)))
			if err != nil {
				t.Fatalf("Generate(%q, %d): %v", p, n, err)
			}
			if got := utf8.RuneCountInString(s); got != n {
				t.Errorf("Generate(%q, %d): %d runes", p, n, got)
			}
			for _, r := range s {
				if !re.MatchString(string(r)) {
					t.Errorf("Generate(%q, %d): %q does not match", p, n, r)
				}
			}
		}
	}
}

func TestGenerateFoldCaseStaysASCII(t *testing.T) {
	for _, p := range []string{"(?i)[a-z]", "(?i)[k-s]", "(?i)ks"} {
		s, err := Generate(p, 2000, seeded(4))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s {
			if r >= utf8.RuneSelf {
				t.Fatalf("Generate(%q): non-ASCII %q", p, r)
			}
		}
		if strings.ToLower(s) == s || strings.ToUpper(s) == s {
			t.Errorf("Generate(%q): only one case in %.20q...", p, s)
		}
	}
}

func TestGenerateComplementIsPrintableASCII(t *testing.T) {
	for _, p := range []string{"[^a-z]", ".", `\D`, `\W`, `\S`, `[^\n]`} {
		s, err := Generate(p, 2000, seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s {
			if r < ' ' || r > '~' {
				t.Fatalf("Generate(%q): %q outside printable ASCII", p, r)
			}
		}
	}
	// Every printable non-letter shows up in [^a-z] given enough samples.
	s, _ := Generate("[^a-z]", 20000, seeded(2))
	for r := rune(' '); r <= '~'; r++ {
		if (r < 'a' || r > 'z') && !strings.ContainsRune(s, r) {
			t.Errorf("[^a-z] never produced %q", r)
		}
	}
}

// TestGenerateUnits checks that single matches of general patterns match
// in full, and that Generate repeats and truncates them.
func TestGenerateUnits(t *testing.T) {
	patterns := []string{
		"abc", "[a-f]{4}-", "(foo|bar|bazz)", `\d{3}-\d{2,4}`, "a*b+c?", "x{2,}", "(ab|c)*d",
		"^[A-Z][a-z]+$", "(?i)hello", "colou?r", `[0-9a-f]{8}-[0-9a-f]{4}`, "(a|b|)c", "á+ß",
		"(|x)", "a{0}b", "[a-c]{0,3}z",
	}
	for _, p := range patterns {
		re := regexp.MustCompile(`^(?:` + p + `)$`)
		root, err := compile(p)
		if err != nil {
			t.Fatalf("compile(%q): %v", p, err)
		}
		for i := range 200 {
			g := generator{src: source{r: seeded(byte(i))}, want: 1 << 20, budget: 1 << 20}
			g.gen(root)
			if g.err != nil {
				t.Fatalf("gen(%q): %v", p, g.err)
			}
			if !re.Match(g.out) {
				t.Fatalf("gen(%q) = %q does not match", p, g.out)
			}
		}
		for _, n := range []int{1, 5, 64} {
			s, err := Generate(p, n, seeded(9))
			if err != nil || utf8.RuneCountInString(s) != n {
				t.Errorf("Generate(%q, %d) = %q, %v", p, n, s, err)
			}
		}
	}
	s, err := Generate("abc", 8, seeded(0))
	if err != nil || s != "abcabcab" {
		t.Errorf(`Generate("abc", 8) = %q, %v; want "abcabcab"`, s, err)
	}
}

func TestGenerateErrors(t *testing.T) {
	cases := []struct {
		pattern string
		n       int
		want    error
	}{
		{"[a-z", 5, ErrPattern},
		{"a**", 5, ErrPattern},
		{"(?P<x>a)\\1", 5, ErrPattern},
		{"x{1001}", 5, ErrPattern},
		{"[a-z]", -1, ErrLength},
		{"[a-z]", MaxLength + 1, ErrLength},
		{`[^\x00-\x{10FFFF}]`, 5, ErrEmptyClass},
		{`[^ -~]`, 5, ErrEmptyClass},
		{`[\x{10000}-\x{10FFFF}]`, 5, ErrEmptyClass}, // read as a complement
		{`a[^\x00-\x{10FFFF}]`, 5, ErrEmptyClass},
		{"", 5, ErrEmptyMatch},
		{"^$", 5, ErrEmptyMatch},
		{"a{0}", 5, ErrEmptyMatch},
		{`\b()*`, 5, ErrEmptyMatch},
		{"", 0, ErrEmptyMatch},
		{strings.Repeat("a", maxPatternLen+1), 1, ErrPattern},
	}
	for _, c := range cases {
		s, err := Generate(c.pattern, c.n, seeded(0))
		if !errors.Is(err, c.want) {
			t.Errorf("Generate(%.20q, %d) = %q, %v; want %v", c.pattern, c.n, s, err, c.want)
		}
	}
	// A pattern that mostly matches empty strings runs out of budget
	// instead of looping.
	var empties []string
	for i := range 200 {
		empties = append(empties, fmt.Sprintf(`\x{%x}{0}`, 0x100+i))
	}
	mostlyEmpty := "(?:" + strings.Join(empties, "|") + "|x)" // x once per 201 matches
	if _, err := Generate(mostlyEmpty, 1000, seeded(0)); !errors.Is(err, ErrTooComplex) {
		t.Errorf("mostly-empty pattern: %v; want ErrTooComplex", err)
	}
	if _, err := Generate("a", 1, nil); err == nil {
		t.Error("nil source: no error")
	}
}

func TestGenerateSourceErrors(t *testing.T) {
	// An exhausted source is an error, not a panic or a short string.
	_, err := Generate("[a-z]", 100, bytes.NewReader([]byte{1, 2, 3}))
	if !errors.Is(err, io.EOF) {
		t.Errorf("short source: %v; want io.EOF", err)
	}
	// A constant source that is always rejected fails instead of looping.
	_, err = Generate("[a-c]", 1, bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<10)))
	if err == nil || !strings.Contains(err.Error(), "not uniform") {
		t.Errorf("constant source: %v", err)
	}
	// A single-member class needs no randomness at all.
	if s, err := Generate("[x]", 3, bytes.NewReader(nil)); err != nil || s != "xxx" {
		t.Errorf("Generate([x]) = %q, %v", s, err)
	}
}

// TestGenerateDistribution is a loose chi-square test: with 61 degrees of
// freedom the statistic has mean 61 and standard deviation 11; 130 is about
// six deviations out, so a uniform generator cannot fail by chance, while a
// modulo-biased or off-by-one one would.
func TestGenerateDistribution(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const perSymbol = 100
	for seed := range byte(3) {
		s, err := Generate("[A-Za-z0-9]", len(alphabet)*perSymbol, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		counts := map[rune]int{}
		for _, r := range s {
			counts[r]++
		}
		chi := 0.0
		for _, r := range alphabet {
			d := float64(counts[r] - perSymbol)
			chi += d * d / perSymbol
		}
		if chi > 130 {
			t.Errorf("seed %d: chi-square %.1f over 61 degrees of freedom", seed, chi)
		}
	}
	// Alternation branches and repeat counts are uniform too.
	s, err := Generate("(a|b|c)", 3000, seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "abc" {
		if c := strings.Count(s, string(r)); c < 850 || c > 1150 {
			t.Errorf("(a|b|c): %q appears %d times of 3000", r, c)
		}
	}
}

func TestGenerateCryptoRand(t *testing.T) {
	s, err := Generate("[A-Za-z0-9]", 32, rand.Reader)
	if err != nil || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(s) {
		t.Errorf("Generate = %q, %v", s, err)
	}
}

func TestUint64n(t *testing.T) {
	s := source{r: seeded(3)}
	for _, n := range []uint64{2, 3, 255, 256, 257, 1 << 32, 1<<63 + 1, ^uint64(0)} {
		for range 100 {
			v, err := s.uint64n(n)
			if err != nil || v >= n {
				t.Fatalf("uint64n(%d) = %d, %v", n, v, err)
			}
		}
	}
}

func FuzzGenerate(f *testing.F) {
	for _, p := range []string{"[A-Za-z0-9]", "[a-f0-9]", `\d`, "[^a-z]", ".", "(a|b)*c{2,5}", "x{1000}", "(?i)[k-s]", `\b`, ""} {
		f.Add(p, uint16(33), uint64(1))
	}
	f.Fuzz(func(t *testing.T, pattern string, n uint16, seed uint64) {
		var key [32]byte
		key[0], key[1] = byte(seed), byte(seed>>8)
		s, err := Generate(pattern, int(n), mrand.NewChaCha8(key))
		if err != nil {
			if !errors.Is(err, ErrPattern) && !errors.Is(err, ErrEmptyClass) &&
				!errors.Is(err, ErrEmptyMatch) && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("Generate(%q, %d): unexpected error %v", pattern, n, err)
			}
			return
		}
		if got := utf8.RuneCountInString(s); got != int(n) {
			t.Fatalf("Generate(%q, %d): %d runes", pattern, n, got)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("Generate(%q, %d): invalid UTF-8", pattern, n)
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	b.Run("alnum32/crypto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Generate("[A-Za-z0-9]", 32, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("alnum32/chacha8", func(b *testing.B) {
		b.ReportAllocs()
		r := seeded(0)
		for b.Loop() {
			if _, err := Generate("[A-Za-z0-9]", 32, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uuidish/crypto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Generate("[0-9a-f]{8}-[0-9a-f]{4}-", 36, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
	})
}
