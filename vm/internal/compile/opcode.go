package compile

import "fmt"

// Op is a bytecode operation. Each instruction is one 64-bit word (Instr):
//
//	bits  0..7   Op
//	bits  8..31  A (24-bit unsigned operand)
//	bits 32..63  B (32-bit operand; jump targets are absolute pcs)
//
// The machine is a stack machine. Every function frame has NumLocals slots
// (parameters first, then named locals, then hidden temporaries such as loop
// counters) followed by its operand stack. Globals live in one array indexed
// by the slot numbers of Program.Globals. "undef" is the internal marker of
// an unset slot; it never reaches user code.
//
// Stack pictures are written "before → after", top of stack on the right.
type Op uint8

// Opcodes. Keep in sync with opNames; renumbering requires bumping Version.
const (
	NOP Op = iota // –                                     no operation

	CONST // → K[A]                                   push constant A
	NONE  // → None
	TRUE  // → True
	FALSE // → False
	SMALL // → int(int32(B))                          small integer literal
	POP   // x →
	DUP   // x → x x

	LOADL   // → L[A]      if L[A] is unset pushes G[Fallback[A]]; error if that is unset too
	STOREL  // x →         L[A] = x
	LOADG   // → G[A]      error "name is not defined" if unset
	STOREG  // x →         G[A] = x
	OPTL    // → L[A]|G[Fallback[A]]|undef   like LOADL but pushes undef instead of failing (command source arguments)
	OPTG    // → G[A]|undef
	ORTEXT  // x → x|K[A]  replaces undef by the constant A (value arguments: a bare name that is no variable is its own text)
	LOADTMP // → L[A]      hidden slot, never unset

	// Binary operators: x y → x op y (Python semantics).
	ADD
	SUB
	MUL
	DIV // true division, always float
	MOD // Python modulo; str % args is formatting
	POW
	BAND
	BOR
	BXOR
	SHL
	SHR
	EQ
	NE
	LT
	LE
	GT
	GE
	IN    // x y → x in y
	NOTIN // x y → x not in y
	IS    // x y → x is y
	ISNOT // x y → x is not y

	// Unary operators: x → op x.
	NEG
	POS
	INVERT
	NOT

	CMP // x y → bool   AVAP comparison-mode test of if(x, y, op) with op = Comparator(A)

	JUMP      // –  →  –        pc = B
	JUMPF     // x  →  –        if !truth(x) pc = B
	JUMPT     // x  →  –        if truth(x) pc = B
	JUMPFKEEP // x  →  x | –    if !truth(x) { pc = B (x stays) } else pop   (and)
	JUMPTKEEP // x  →  x | –    if truth(x) { pc = B (x stays) } else pop    (or)

	LIST  // x1..xA → list
	DICT  // k1 v1 .. kA vA → dict
	INDEX // x i → x[i]
	SLICE // x [lo] [hi] [step] → x[lo:hi:step]; A bit 0/1/2 = lo/hi/step present (absent ones are not pushed)
	ATTR  // x → x.K[A]   dict key read

	CALL    // a1..aB → r        call user function A with B arguments
	BUILTIN // a1..aB → r        call built-in function A (Builtin) with B arguments
	CMD     // a1..aB → r        run command A (Commands[A]) with B pushed values
	UNKNOWN // –  → (error)      runtime error "command not found: K[A]"
	RETURN  // x → (caller: x)   return from the function (at top level: stop)
	TMPL    // p1..pA → str      concatenate the string forms of A parts (undef → "")

	FORPREP // from to → –       L[A] = int(from), L[A+1] = int(to); if from > to pc = B
	FORNEXT // –  → –            L[A]++; if L[A] <= L[A+1] pc = B
	FORSETL // –  → –            L[A] = L[B]   (loop variable ← hidden counter)
	FORSETG // –  → –            G[A] = L[B]

	TRY    // –  → –             push handler: on a catchable error unwind to this frame, pc = B
	ENDTRY // –  → –             pop handler
	ERRMSG // –  → str           message of the error being handled

	RESULT // x → –              addResult: result[K[A]] = copy(x) (undef → None)
	LOCALS // –  → dict          the set named locals of the frame (end of a go_async block)
	FAIL   // –  → (error)       runtime error K[A] wrapping ErrNotAvailable (unsupported construct)

	// Superinstructions made by the peephole pass.
	ADDLK  // → L[A] + K[B]
	SUBLK  // → L[A] - K[B]
	ADDGG  // → G[A] + G[B]
	ADDLL  // → L[A] + L[B]
	INCG   // –  → –              G[A] = G[A] + K[B]
	INCL   // –  → –              L[A] = L[A] + K[B]
	ADDSTG // x y → –             G[A] = x + y
	ADDSTL // x y → –             L[A] = x + y
	CMPLK  // → bool              CMP(v, K[B&0xFFFFFF]) with comparator B>>24, v = L[A] | G[Fallback[A]] | LocalNames[A] as text (fused OPTL ORTEXT CONST CMP)
	INCGG  // –  → –              G[A] = G[A] + G[B]   (x = x + y with globals)
	INCLL  // –  → –              L[A] = L[A] + L[B]   (x = x + y with locals)
	CMPGK  // → bool              CMP(v, K[B&0xFFFFFF]) with comparator B>>24, v = G[A] | Globals[A] as text (fused OPTG ORTEXT CONST CMP)

	numOps
)

// NoSlot in Func.Fallback means "no global fallback".
const NoSlot = 0xFFFFFFFF

var opNames = [...]string{
	NOP: "NOP", CONST: "CONST", NONE: "NONE", TRUE: "TRUE", FALSE: "FALSE", SMALL: "SMALL",
	POP: "POP", DUP: "DUP", LOADL: "LOADL", STOREL: "STOREL", LOADG: "LOADG", STOREG: "STOREG",
	OPTL: "OPTL", OPTG: "OPTG", ORTEXT: "ORTEXT", LOADTMP: "LOADTMP",
	ADD: "ADD", SUB: "SUB", MUL: "MUL", DIV: "DIV", MOD: "MOD", POW: "POW",
	BAND: "BAND", BOR: "BOR", BXOR: "BXOR", SHL: "SHL", SHR: "SHR",
	EQ: "EQ", NE: "NE", LT: "LT", LE: "LE", GT: "GT", GE: "GE",
	IN: "IN", NOTIN: "NOTIN", IS: "IS", ISNOT: "ISNOT",
	NEG: "NEG", POS: "POS", INVERT: "INVERT", NOT: "NOT", CMP: "CMP",
	JUMP: "JUMP", JUMPF: "JUMPF", JUMPT: "JUMPT", JUMPFKEEP: "JUMPFKEEP", JUMPTKEEP: "JUMPTKEEP",
	LIST: "LIST", DICT: "DICT", INDEX: "INDEX", SLICE: "SLICE", ATTR: "ATTR",
	CALL: "CALL", BUILTIN: "BUILTIN", CMD: "CMD", UNKNOWN: "UNKNOWN", RETURN: "RETURN", TMPL: "TMPL",
	FORPREP: "FORPREP", FORNEXT: "FORNEXT", FORSETL: "FORSETL", FORSETG: "FORSETG",
	TRY: "TRY", ENDTRY: "ENDTRY", ERRMSG: "ERRMSG", RESULT: "RESULT", LOCALS: "LOCALS", FAIL: "FAIL",
	ADDLK: "ADDLK", SUBLK: "SUBLK", ADDGG: "ADDGG", ADDLL: "ADDLL",
	INCG: "INCG", INCL: "INCL", ADDSTG: "ADDSTG", ADDSTL: "ADDSTL", CMPLK: "CMPLK", CMPGK: "CMPGK", INCGG: "INCGG", INCLL: "INCLL",
}

func (op Op) String() string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return fmt.Sprintf("op%d", uint8(op))
}

// Instr is one encoded instruction.
type Instr uint64

// MakeInstr encodes an instruction. a must fit in 24 bits.
func MakeInstr(op Op, a uint32, b uint32) Instr {
	return Instr(uint64(op) | uint64(a&0xFFFFFF)<<8 | uint64(b)<<32)
}

// Op returns the operation.
func (i Instr) Op() Op { return Op(i) }

// A returns the 24-bit operand.
func (i Instr) A() uint32 { return uint32(i>>8) & 0xFFFFFF }

// B returns the 32-bit operand.
func (i Instr) B() uint32 { return uint32(i >> 32) }

// MaxA is the largest value of operand A.
const MaxA = 0xFFFFFF

// Comparator is the operator of an if() in comparison mode (CMP's A).
type Comparator uint8

// Comparators.
const (
	CmpEq Comparator = iota // = or ==
	CmpNe                   // !=
	CmpLt                   // <
	CmpGt                   // >
	CmpLe                   // <=
	CmpGe                   // >=
	CmpIn                   // in
)

// ParseComparator maps the source text of a comparator.
func ParseComparator(s string) (Comparator, bool) {
	switch s {
	case "=", "==":
		return CmpEq, true
	case "!=":
		return CmpNe, true
	case "<":
		return CmpLt, true
	case ">":
		return CmpGt, true
	case "<=":
		return CmpLe, true
	case ">=":
		return CmpGe, true
	case "in":
		return CmpIn, true
	}
	return 0, false
}

var cmpNames = [...]string{"=", "!=", "<", ">", "<=", ">=", "in"}

func (c Comparator) String() string {
	if int(c) < len(cmpNames) {
		return cmpNames[c]
	}
	return "?"
}

// Builtin is a built-in function callable in expressions (BUILTIN's A).
type Builtin uint8

// Built-in functions.
const (
	BuiltinStr Builtin = iota
	BuiltinInt
	BuiltinFloat
	BuiltinLen
	numBuiltins
)

// BuiltinNames lists the built-in functions by Builtin number.
var builtinNames = [...]string{"str", "int", "float", "len"}

// BuiltinName returns the name of b.
func BuiltinName(b Builtin) string {
	if int(b) < len(builtinNames) {
		return builtinNames[b]
	}
	return "?"
}

func lookupBuiltin(name string) (Builtin, bool) {
	for i, n := range builtinNames {
		if n == name {
			return Builtin(i), true
		}
	}
	return 0, false
}
