package compile

import (
	"fmt"
	"io"
	"strconv"
)

// Disassemble writes a readable listing of p: constants, globals and the
// code of every function with source positions.
func (p *Program) Disassemble(w io.Writer) {
	fmt.Fprintf(w, "program %q\n", p.Name)
	for i, g := range p.Globals {
		fmt.Fprintf(w, "  global %d %s\n", i, g)
	}
	for i, k := range p.Consts {
		fmt.Fprintf(w, "  const %d %s\n", i, k)
	}
	for fi, f := range p.Funcs {
		name := f.Name
		if fi == 0 {
			name = "<main>"
		}
		fmt.Fprintf(w, "func %d %s params=%d locals=%d maxstack=%d\n", fi, name, f.NumParams, f.NumLocals, f.MaxStack)
		for pc, in := range f.Code {
			fmt.Fprintf(w, "  %4d %-6s %-9s", pc, f.PosAt(pc), in.Op())
			switch op := in.Op(); op {
			case CONST, ORTEXT, UNKNOWN, FAIL, ATTR, RESULT:
				fmt.Fprintf(w, " %s", p.constString(in.A()))
			case LOADL, STOREL, OPTL, LOADTMP, ADDSTL:
				fmt.Fprintf(w, " %s", localName(f, in.A()))
			case LOADG, STOREG, OPTG, ADDSTG:
				fmt.Fprintf(w, " %s", p.Globals[in.A()])
			case JUMP, JUMPF, JUMPT, JUMPFKEEP, JUMPTKEEP, TRY:
				fmt.Fprintf(w, " ->%d", in.B())
			case FORPREP, FORNEXT:
				fmt.Fprintf(w, " %s ->%d", localName(f, in.A()), in.B())
			case FORSETL:
				fmt.Fprintf(w, " %s = %s", localName(f, in.A()), localName(f, in.B()))
			case FORSETG:
				fmt.Fprintf(w, " %s = %s", p.Globals[in.A()], localName(f, in.B()))
			case CALL:
				fmt.Fprintf(w, " %s/%d", p.Funcs[in.A()].Name, in.B())
			case BUILTIN:
				fmt.Fprintf(w, " %s/%d", BuiltinName(Builtin(in.A())), in.B())
			case CMD:
				fmt.Fprintf(w, " %s/%d", commands[in.A()].Name, in.B())
			case CMP:
				fmt.Fprintf(w, " %s", Comparator(in.A()))
			case LIST, DICT, TMPL, SLICE:
				fmt.Fprintf(w, " %d", in.A())
			case ADDLK, SUBLK, INCL:
				fmt.Fprintf(w, " %s %s", localName(f, in.A()), p.constString(in.B()))
			case INCG:
				fmt.Fprintf(w, " %s %s", p.Globals[in.A()], p.constString(in.B()))
			case ADDGG, INCGG:
				fmt.Fprintf(w, " %s %s", p.Globals[in.A()], p.Globals[in.B()])
			case ADDLL, INCLL:
				fmt.Fprintf(w, " %s %s", localName(f, in.A()), localName(f, in.B()))
			case CMPLK:
				fmt.Fprintf(w, " %s %s %s", localName(f, in.A()), Comparator(in.B()>>24), p.constString(in.B()&0xFFFFFF))
			case CMPGK:
				fmt.Fprintf(w, " %s %s %s", p.Globals[in.A()], Comparator(in.B()>>24), p.constString(in.B()&0xFFFFFF))
			}
			fmt.Fprintln(w)
		}
	}
}

func localName(f *Func, i uint32) string {
	if n := f.LocalNames[i]; n != "" {
		return n
	}
	return "$t" + strconv.Itoa(int(i))
}

func (p *Program) constString(i uint32) string {
	if int(i) >= len(p.Consts) {
		return "?"
	}
	return p.Consts[i].String()
}

// String formats a constant as it would be written in a script.
func (k Const) String() string {
	switch k.Kind {
	case ConstNone:
		return "None"
	case ConstBool:
		if k.Int != 0 {
			return "True"
		}
		return "False"
	case ConstInt:
		return strconv.FormatInt(k.Int, 10)
	case ConstFloat:
		return strconv.FormatFloat(k.Float, 'g', -1, 64)
	}
	return strconv.Quote(k.Str)
}
