package compile

import (
	"sort"

	"github.com/avapmesh/avap/vm/syntax"
)

// ConstKind is the type of a constant.
type ConstKind uint8

// Constant kinds.
const (
	ConstNone ConstKind = iota
	ConstBool
	ConstInt
	ConstFloat
	ConstString
)

// Const is one entry of the constant pool.
type Const struct {
	Kind  ConstKind
	Int   int64   // ConstInt; ConstBool (0/1)
	Float float64 // ConstFloat
	Str   string  // ConstString
}

// Program is the compiled form of one script. It is immutable once built.
type Program struct {
	Name    string
	Globals []string // global variable names by slot
	Consts  []Const
	Funcs   []*Func // Funcs[0] is the top level of the script
	// Calls lists the distinct commands, built-ins and user functions the
	// program may call, sorted (Program.Commands of package vm).
	Calls []string
	// Host reports whether the program may call a Host command.
	Host bool

	index map[string]int // global name → slot, when known
}

// Func is one compiled function (or the top level).
type Func struct {
	Name       string     // "" for the top level
	Pos        syntax.Pos // position of the declaration
	NumParams  int
	NumLocals  int      // parameters + named locals + hidden temporaries
	LocalNames []string // names of local slots; "" for temporaries
	// Fallback maps each local slot to the global slot read when the local
	// is unset (a bare name not found locally reads the global, Part A #6);
	// NoSlot for temporaries and at top level.
	Fallback []uint32
	MaxStack int // operand stack depth needed beyond the locals
	Code     []Instr
	Lines    []LineEntry // source map, sorted by PC
}

// LineEntry maps the instructions from PC on (up to the next entry) to a
// source position.
type LineEntry struct {
	PC  uint32
	Pos syntax.Pos
}

// PosAt returns the source position of the instruction at pc.
func (f *Func) PosAt(pc int) syntax.Pos {
	i := sort.Search(len(f.Lines), func(i int) bool { return int(f.Lines[i].PC) > pc })
	if i == 0 {
		return f.Pos
	}
	return f.Lines[i-1].Pos
}

// GlobalIndex returns a map from global name to slot. The map is shared:
// callers must not modify it.
func (p *Program) GlobalIndex() map[string]int {
	if p.index != nil {
		return p.index
	}
	m := make(map[string]int, len(p.Globals))
	for i, g := range p.Globals {
		m[g] = i
	}
	return m
}
