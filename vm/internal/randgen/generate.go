package randgen

import (
	"fmt"
	"io"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxLength is the largest n Generate accepts.
	MaxLength = 1 << 20
	// MaxUnbounded caps the extra repetitions of *, + and {n,}.
	MaxUnbounded = 10
	// maxPatternLen bounds the pattern text.
	maxPatternLen = 1 << 16
	// Work budget: node visits allowed per requested character, plus a base.
	workPerRune = 64
	workBase    = 1 << 16
)

// Universe of ".", negated classes and classes that reach unicode.MaxRune:
// printable ASCII.
const (
	printableLo = ' '
	printableHi = '~'
)

// Generate returns a string of exactly n characters (runes) made of random
// matches of pattern, drawing randomness from r. See the package
// documentation for the supported syntax.
func Generate(pattern string, n int, r io.Reader) (string, error) {
	if n < 0 || n > MaxLength {
		return "", fmt.Errorf("%w: %d (allowed 0..%d)", ErrLength, n, MaxLength)
	}
	if r == nil {
		return "", fmt.Errorf("randgen: nil random source")
	}
	root, err := compile(pattern)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", nil
	}
	g := generator{
		src:    source{r: r},
		want:   n,
		budget: workPerRune*n + workBase,
		out:    make([]byte, 0, n),
	}
	for g.count < n && g.err == nil {
		g.gen(root)
	}
	if g.err != nil {
		return "", g.err
	}
	return string(g.out), nil
}

// node is a compiled pattern element.
type node struct {
	op       nodeOp
	runes    []rune   // opLiteral: the runes; opClass: lo,hi pairs
	folds    [][]rune // opLiteral with (?i): case variants of each rune
	cum      []uint64 // opClass: members before each range
	total    uint64   // opClass: number of members
	subs     []*node  // opConcat, opAlternate, opRepeat (one)
	min, max int      // opRepeat
	emits    bool     // can produce at least one rune
}

type nodeOp uint8

const (
	opEmpty nodeOp = iota
	opLiteral
	opClass
	opConcat
	opAlternate
	opRepeat
)

// compile parses pattern and converts it to nodes, checking that it can
// produce at least one character.
func compile(pattern string) (*node, error) {
	if len(pattern) > maxPatternLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrPattern, maxPatternLen)
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPattern, err)
	}
	root, ok := convert(re)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrEmptyClass, pattern)
	}
	if !canEmit(root) {
		return nil, fmt.Errorf("%w: %q", ErrEmptyMatch, pattern)
	}
	return root, nil
}

// convert turns re into a node; ok is false when re matches nothing.
func convert(re *syntax.Regexp) (n *node, ok bool) {
	n, ok = convertOp(re)
	if ok && n.op != opEmpty && !canEmit(n) {
		n = &node{op: opEmpty} // assertions and empty groups cost no work
	}
	return n, ok
}

func convertOp(re *syntax.Regexp) (n *node, ok bool) {
	switch re.Op {
	case syntax.OpNoMatch:
		return nil, false
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return &node{op: opEmpty}, true
	case syntax.OpLiteral:
		n := &node{op: opLiteral, runes: re.Rune}
		if re.Flags&syntax.FoldCase != 0 {
			n.folds = make([][]rune, len(re.Rune))
			for i, r := range re.Rune {
				n.folds[i] = foldOrbit(r)
			}
		}
		return n, true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return classNode([]rune{printableLo, printableHi})
	case syntax.OpCharClass:
		ranges := re.Rune
		if len(ranges) > 0 && ranges[len(ranges)-1] == unicode.MaxRune {
			ranges = intersectPrintable(ranges)
		} else if re.Flags&syntax.FoldCase != 0 {
			ranges = dropFoldIns(ranges)
		}
		return classNode(ranges)
	case syntax.OpCapture:
		return convert(re.Sub[0])
	case syntax.OpStar:
		return repeatNode(re.Sub[0], 0, MaxUnbounded)
	case syntax.OpPlus:
		return repeatNode(re.Sub[0], 1, 1+MaxUnbounded)
	case syntax.OpQuest:
		return repeatNode(re.Sub[0], 0, 1)
	case syntax.OpRepeat:
		hi := re.Max
		if hi < 0 {
			hi = re.Min + MaxUnbounded
		}
		return repeatNode(re.Sub[0], re.Min, hi)
	case syntax.OpConcat:
		n := &node{op: opConcat}
		for _, s := range re.Sub {
			sn, ok := convert(s)
			if !ok {
				return nil, false
			}
			if sn.op != opEmpty {
				n.subs = append(n.subs, sn)
			}
		}
		return n, true
	case syntax.OpAlternate:
		n := &node{op: opAlternate}
		for _, s := range re.Sub {
			if sn, ok := convert(s); ok {
				n.subs = append(n.subs, sn)
			}
		}
		if len(n.subs) == 0 {
			return nil, false
		}
		return n, true
	}
	// Unknown operators (none exist today) match nothing we can produce.
	return nil, false
}

func repeatNode(sub *syntax.Regexp, lo, hi int) (*node, bool) {
	sn, ok := convert(sub)
	if !ok {
		if lo == 0 {
			return &node{op: opEmpty}, true
		}
		return nil, false
	}
	if hi == 0 || sn.op == opEmpty {
		return &node{op: opEmpty}, true
	}
	return &node{op: opRepeat, subs: []*node{sn}, min: lo, max: hi}, true
}

func classNode(ranges []rune) (*node, bool) {
	if len(ranges) == 0 {
		return nil, false
	}
	n := &node{op: opClass, runes: ranges, cum: make([]uint64, len(ranges)/2)}
	for i := 0; i < len(ranges); i += 2 {
		n.cum[i/2] = n.total
		n.total += uint64(ranges[i+1]-ranges[i]) + 1
	}
	return n, true
}

// intersectPrintable keeps the printable ASCII part of sorted ranges.
func intersectPrintable(ranges []rune) []rune {
	var out []rune
	for i := 0; i < len(ranges); i += 2 {
		lo, hi := max(ranges[i], printableLo), min(ranges[i+1], printableHi)
		if lo <= hi {
			out = append(out, lo, hi)
		}
	}
	return out
}

// dropFoldIns removes from a (?i) class the non-ASCII runes that Unicode
// folds to ASCII letters the class already has: U+017F (long s) and U+212A
// (Kelvin sign), which Go adds to (?i)[a-z] and exrex would never produce.
func dropFoldIns(ranges []rune) []rune {
	in := func(r rune) bool {
		for i := 0; i < len(ranges); i += 2 {
			if ranges[i] <= r && r <= ranges[i+1] {
				return true
			}
		}
		return false
	}
	var drop []rune
	for _, r := range []rune{0x17F, 0x212A} {
		if !in(r) {
			continue
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf && in(f) {
				drop = append(drop, r)
				break
			}
		}
	}
	if drop == nil {
		return ranges
	}
	var out []rune
	for i := 0; i < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for _, d := range drop {
			if lo <= d && d <= hi {
				if lo < d {
					out = append(out, lo, d-1)
				}
				lo = d + 1
			}
		}
		if lo <= hi {
			out = append(out, lo, hi)
		}
	}
	return out
}

// foldOrbit returns the case variants of r, keeping only ASCII ones for an
// ASCII r (so (?i)k never yields the Kelvin sign).
func foldOrbit(r rune) []rune {
	orbit := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if r < utf8.RuneSelf && f >= utf8.RuneSelf {
			continue
		}
		orbit = append(orbit, f)
	}
	return orbit
}

// canEmit reports whether n can produce at least one rune, and records it.
func canEmit(n *node) bool {
	switch n.op {
	case opLiteral:
		n.emits = len(n.runes) > 0
	case opClass:
		n.emits = true
	case opRepeat:
		n.emits = n.subs[0].emits
	case opConcat, opAlternate:
		for _, s := range n.subs {
			n.emits = n.emits || s.emits
		}
	}
	return n.emits
}

// generator appends random matches to out until it holds want runes.
type generator struct {
	src    source
	want   int
	count  int // runes in out
	budget int // node visits left
	out    []byte
	err    error
}

func (g *generator) emit(r rune) {
	g.out = utf8.AppendRune(g.out, r)
	g.count++
}

// done reports whether generation must stop: enough runes, or an error.
func (g *generator) done() bool { return g.count >= g.want || g.err != nil }

func (g *generator) intn(n int) int {
	v, err := g.src.uint64n(uint64(n))
	if err != nil && g.err == nil {
		g.err = err
	}
	return int(v)
}

func (g *generator) gen(n *node) {
	if g.done() {
		return
	}
	g.budget--
	if g.budget < 0 {
		g.err = ErrTooComplex
		return
	}
	switch n.op {
	case opLiteral:
		for i, r := range n.runes {
			if g.done() {
				return
			}
			if n.folds != nil && len(n.folds[i]) > 1 {
				r = n.folds[i][g.intn(len(n.folds[i]))]
			}
			g.emit(r)
		}
	case opClass:
		k, err := g.src.uint64n(n.total)
		if err != nil {
			g.err = err
			return
		}
		// Find the last range starting at or before member k.
		lo, hi := 0, len(n.cum)
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if n.cum[mid] <= k {
				lo = mid
			} else {
				hi = mid
			}
		}
		g.emit(n.runes[2*lo] + rune(k-n.cum[lo]))
	case opConcat:
		for _, s := range n.subs {
			g.gen(s)
		}
	case opAlternate:
		g.gen(n.subs[g.intn(len(n.subs))])
	case opRepeat:
		count := n.min + g.intn(n.max-n.min+1)
		for range count {
			if g.done() {
				return
			}
			g.gen(n.subs[0])
		}
	}
}
