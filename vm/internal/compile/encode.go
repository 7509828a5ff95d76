package compile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/avapmesh/avap/vm/syntax"
)

// Magic starts every encoded program.
const Magic = "AVBC"

// Version is the bytecode format version. Bump it whenever the encoding,
// the opcode numbering, the command numbering or the meaning of an
// instruction changes; caches key on it.
const Version = 1

// ErrFormat is wrapped by every Decode error.
var ErrFormat = errors.New("bad bytecode")

// Encode serialises p. The layout (all integers unsigned LEB128 varints
// unless noted; strings are a varint length and UTF-8 bytes):
//
//	"AVBC" version
//	hash           32 bytes (SHA-256 of the source)
//	name           string
//	globals        count, strings
//	consts         count, each: kind byte, then int (zigzag varint) | float (8 bytes LE IEEE-754) | string | bool byte
//	calls          count, strings
//	host           byte 0/1
//	funcs          count, each:
//	                 name string, line, col, numParams, numLocals, maxStack,
//	                 localNames count + strings, fallback count + (slot+1, 0 = none),
//	                 code count + 8-byte LE words, lines count + (pc delta, line, col)
func Encode(p *Program, hash [32]byte) ([]byte, error) {
	var e encoder
	e.b = append(e.b, Magic...)
	e.uint(Version)
	e.b = append(e.b, hash[:]...)
	e.str(p.Name)
	e.strs(p.Globals)
	e.uint(uint64(len(p.Consts)))
	for _, k := range p.Consts {
		e.b = append(e.b, byte(k.Kind))
		switch k.Kind {
		case ConstNone:
		case ConstBool:
			e.b = append(e.b, byte(k.Int))
		case ConstInt:
			e.b = binary.AppendVarint(e.b, k.Int)
		case ConstFloat:
			e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(k.Float))
		case ConstString:
			e.str(k.Str)
		default:
			return nil, fmt.Errorf("encode: bad constant kind %d", k.Kind)
		}
	}
	e.strs(p.Calls)
	if p.Host {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	e.uint(uint64(len(p.Funcs)))
	for _, f := range p.Funcs {
		e.str(f.Name)
		e.uint(uint64(f.Pos.Line))
		e.uint(uint64(f.Pos.Col))
		e.uint(uint64(f.NumParams))
		e.uint(uint64(f.NumLocals))
		e.uint(uint64(f.MaxStack))
		e.strs(f.LocalNames)
		e.uint(uint64(len(f.Fallback)))
		for _, g := range f.Fallback {
			if g == NoSlot {
				e.uint(0)
			} else {
				e.uint(uint64(g) + 1)
			}
		}
		e.uint(uint64(len(f.Code)))
		for _, in := range f.Code {
			e.b = binary.LittleEndian.AppendUint64(e.b, uint64(in))
		}
		e.uint(uint64(len(f.Lines)))
		last := uint32(0)
		for _, l := range f.Lines {
			e.uint(uint64(l.PC - last))
			last = l.PC
			e.uint(uint64(l.Pos.Line))
			e.uint(uint64(l.Pos.Col))
		}
	}
	return e.b, nil
}

type encoder struct{ b []byte }

func (e *encoder) uint(x uint64) { e.b = binary.AppendUvarint(e.b, x) }
func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) strs(list []string) {
	e.uint(uint64(len(list)))
	for _, s := range list {
		e.str(s)
	}
}

// Decode parses an encoding made by Encode and verifies it.
func Decode(b []byte) (*Program, [32]byte, error) {
	var hash [32]byte
	d := decoder{b: b}
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, hash, fmt.Errorf("%w: missing magic %q", ErrFormat, Magic)
	}
	d.pos = len(Magic)
	if v := d.uint(); v != Version {
		if d.err != nil {
			return nil, hash, d.err
		}
		return nil, hash, fmt.Errorf("%w: format version %d, want %d", ErrFormat, v, Version)
	}
	copy(hash[:], d.bytes(32))
	p := &Program{}
	p.Name = d.str()
	p.Globals = d.strs()
	n := d.count(1)
	p.Consts = make([]Const, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := Const{Kind: ConstKind(d.byte())}
		switch k.Kind {
		case ConstNone:
		case ConstBool:
			k.Int = int64(d.byte() & 1)
		case ConstInt:
			v, m := binary.Varint(d.b[d.pos:])
			if m <= 0 {
				d.fail("bad int constant")
			}
			d.pos += max(m, 0)
			k.Int = v
		case ConstFloat:
			k.Float = math.Float64frombits(binary.LittleEndian.Uint64(d.bytes(8)))
		case ConstString:
			k.Str = d.str()
		default:
			d.fail("bad constant kind")
		}
		p.Consts = append(p.Consts, k)
	}
	p.Calls = d.strs()
	p.Host = d.byte() == 1
	n = d.count(8)
	for i := 0; i < n && d.err == nil; i++ {
		f := &Func{}
		f.Name = d.str()
		f.Pos = syntax.Pos{Line: int32(d.small()), Col: int32(d.small())}
		f.NumParams = d.small()
		f.NumLocals = d.small()
		f.MaxStack = d.small()
		f.LocalNames = d.strs()
		nf := d.count(1)
		f.Fallback = make([]uint32, 0, nf)
		for j := 0; j < nf && d.err == nil; j++ {
			g := d.uint()
			if g == 0 {
				f.Fallback = append(f.Fallback, NoSlot)
			} else {
				f.Fallback = append(f.Fallback, uint32(min(g-1, math.MaxUint32-1)))
			}
		}
		nc := d.count(8)
		f.Code = make([]Instr, 0, nc)
		for j := 0; j < nc && d.err == nil; j++ {
			f.Code = append(f.Code, Instr(binary.LittleEndian.Uint64(d.bytes(8))))
		}
		nl := d.count(3)
		last := uint64(0)
		for j := 0; j < nl && d.err == nil; j++ {
			last += d.uint()
			f.Lines = append(f.Lines, LineEntry{PC: uint32(min(last, math.MaxUint32)), Pos: syntax.Pos{Line: int32(d.small()), Col: int32(d.small())}})
		}
		p.Funcs = append(p.Funcs, f)
	}
	if d.err != nil {
		return nil, hash, d.err
	}
	if d.pos != len(d.b) {
		return nil, hash, fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(d.b)-d.pos)
	}
	if err := Verify(p); err != nil {
		return nil, hash, err
	}
	return p, hash, nil
}

type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrFormat, msg, d.pos)
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.pos += n
	return v
}

// small reads a varint that must fit comfortably in an int32.
func (d *decoder) small() int {
	v := d.uint()
	if v > math.MaxInt32 {
		d.fail("number too large")
		return 0
	}
	return int(v)
}

// count reads an element count; each element takes at least minSize bytes.
func (d *decoder) count(minSize int) int {
	v := d.uint()
	if v > uint64(len(d.b)-d.pos)/uint64(minSize) {
		d.fail("count too large")
		return 0
	}
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.b)-d.pos < n {
		d.fail("unexpected end")
		return make([]byte, n)
	}
	b := d.b[d.pos : d.pos+n]
	d.pos += n
	return b
}

func (d *decoder) byte() byte { return d.bytes(1)[0] }

func (d *decoder) str() string {
	n := d.count(1)
	return string(d.bytes(n))
}

func (d *decoder) strs() []string {
	n := d.count(1)
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.str())
	}
	return out
}

// Verify checks that every instruction of p is well formed: operands in
// range, jump targets inside the function, a consistent operand stack
// depth within MaxStack on every path, and no path running off the end.
// Decode calls it, so a corrupt or hostile encoding is rejected rather
// than crashing the machine.
func Verify(p *Program) error {
	bad := func(fi, pc int, format string, args ...any) error {
		return fmt.Errorf("%w: func %d pc %d: %s", ErrFormat, fi, pc, fmt.Sprintf(format, args...))
	}
	if len(p.Funcs) == 0 {
		return fmt.Errorf("%w: no code", ErrFormat)
	}
	if p.Funcs[0].NumParams != 0 {
		return fmt.Errorf("%w: top level has parameters", ErrFormat)
	}
	isStr := func(k uint32) bool { return int(k) < len(p.Consts) && p.Consts[k].Kind == ConstString }
	for fi, f := range p.Funcs {
		if f.NumLocals != len(f.LocalNames) || f.NumLocals != len(f.Fallback) || f.NumParams > f.NumLocals ||
			f.NumLocals > MaxA || f.MaxStack > 1<<20 || len(f.Code) == 0 {
			return bad(fi, 0, "bad frame layout")
		}
		for _, g := range f.Fallback {
			if g != NoSlot && int(g) >= len(p.Globals) {
				return bad(fi, 0, "bad fallback slot")
			}
		}
		local := func(a uint32) bool { return int(a) < f.NumLocals }
		global := func(a uint32) bool { return int(a) < len(p.Globals) }
		konst := func(a uint32) bool { return int(a) < len(p.Consts) }
		for pc, in := range f.Code {
			a, b := in.A(), in.B()
			ok := true
			switch op := in.Op(); op {
			case CONST:
				ok = konst(a)
			case ORTEXT, UNKNOWN, FAIL, ATTR, RESULT:
				ok = isStr(a)
			case LOADL, STOREL, OPTL, LOADTMP:
				ok = local(a)
			case LOADG, STOREG, OPTG:
				ok = global(a)
			case CMP:
				ok = a <= uint32(CmpIn)
			case JUMP, JUMPF, JUMPT, JUMPFKEEP, JUMPTKEEP, TRY:
				ok = int(b) < len(f.Code)
			case FORPREP, FORNEXT:
				ok = int(a)+1 < f.NumLocals && int(b) < len(f.Code)
			case FORSETL:
				ok = local(a) && local(b)
			case FORSETG:
				ok = global(a) && local(b)
			case CALL:
				ok = int(a) < len(p.Funcs) && b < 1<<16
			case BUILTIN:
				ok = a < uint32(numBuiltins) && b < 1<<16
			case CMD:
				ok = a < NumCommands && b < 1<<16
			case SLICE:
				ok = a < 8
			case ADDLK, SUBLK, INCL:
				ok = local(a) && konst(b)
			case INCG:
				ok = global(a) && konst(b)
			case ADDGG, INCGG:
				ok = global(a) && global(b)
			case ADDLL, INCLL:
				ok = local(a) && local(b)
			case ADDSTG:
				ok = global(a)
			case ADDSTL:
				ok = local(a)
			case CMPLK:
				ok = local(a) && konst(b&0xFFFFFF) && b>>24 <= uint32(CmpIn)
			case CMPGK:
				ok = global(a) && konst(b&0xFFFFFF) && b>>24 <= uint32(CmpIn)
			default:
				ok = op < numOps
			}
			if !ok {
				return bad(fi, pc, "bad operands for %v", in.Op())
			}
		}
		if err := verifyStack(f); err != nil {
			return bad(fi, 0, "%v", err)
		}
	}
	return nil
}

// verifyStack runs an abstract interpretation of operand stack depths.
func verifyStack(f *Func) error {
	depth := make([]int, len(f.Code))
	for i := range depth {
		depth[i] = -1
	}
	work := []int{0}
	depth[0] = 0
	set := func(pc, d int) error {
		if pc >= len(f.Code) {
			return fmt.Errorf("falls off the end")
		}
		if d < 0 || d > f.MaxStack {
			return fmt.Errorf("stack depth %d out of range at pc %d", d, pc)
		}
		if depth[pc] == -1 {
			depth[pc] = d
			work = append(work, pc)
			return nil
		}
		if depth[pc] != d {
			return fmt.Errorf("inconsistent stack depth at pc %d", pc)
		}
		return nil
	}
	for len(work) > 0 {
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		in := f.Code[pc]
		op, a, b := in.Op(), in.A(), in.B()
		d := depth[pc]
		// Operands consumed must be present.
		need := 0
		switch op {
		case POP, STOREL, STOREG, JUMPF, JUMPT, JUMPFKEEP, JUMPTKEEP, RESULT, RETURN,
			ORTEXT, NEG, POS, INVERT, NOT, ATTR, DUP:
			need = 1
		case ADD, SUB, MUL, DIV, MOD, POW, BAND, BOR, BXOR, SHL, SHR, EQ, NE, LT, LE, GT, GE,
			IN, NOTIN, IS, ISNOT, CMP, INDEX, ADDSTG, ADDSTL, FORPREP:
			need = 2
		case LIST, TMPL:
			need = int(a)
		case DICT:
			need = 2 * int(a)
		case SLICE:
			need = 1 - stackEffect(op, a, b)
		case CALL, BUILTIN, CMD:
			need = int(b)
		}
		if d < need {
			return fmt.Errorf("stack underflow at pc %d", pc)
		}
		nd := d + stackEffect(op, a, b)
		switch op {
		case RETURN:
			continue
		case JUMP:
			if err := set(int(b), nd); err != nil {
				return err
			}
			continue
		case JUMPF, JUMPT, FORPREP, FORNEXT:
			if err := set(int(b), nd); err != nil {
				return err
			}
		case JUMPFKEEP, JUMPTKEEP:
			if err := set(int(b), d); err != nil {
				return err
			}
		case TRY:
			if err := set(int(b), d); err != nil {
				return err
			}
		}
		if err := set(pc+1, nd); err != nil {
			return err
		}
	}
	return nil
}
