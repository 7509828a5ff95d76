package compile_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/avapmesh/avap/vm/internal/compile"
	"github.com/avapmesh/avap/vm/syntax"
)

func mustCompile(t *testing.T, src string) *compile.Program {
	t.Helper()
	f, err := syntax.Parse("t.avap", []byte(src), syntax.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, errs := compile.Compile(f, compile.Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := compile.Verify(p); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return p
}

func disasm(p *compile.Program) string {
	var b bytes.Buffer
	p.Disassemble(&b)
	return b.String()
}

// TestHandBuiltAST compiles a tree built without the parser.
func TestHandBuiltAST(t *testing.T) {
	pos := func(l, c int32) syntax.Pos { return syntax.Pos{Line: l, Col: c} }
	f := &syntax.File{Name: "hand.avap", Stmts: []syntax.Stmt{
		&syntax.AssignStmt{
			Target: &syntax.Ident{NamePos: pos(1, 1), Name: "x"},
			Value: &syntax.BinaryExpr{
				X:     &syntax.BasicLit{ValuePos: pos(1, 5), Kind: syntax.IntLit, Raw: "2", Value: "2"},
				OpPos: pos(1, 7), Op: syntax.ADD,
				Y: &syntax.BasicLit{ValuePos: pos(1, 9), Kind: syntax.IntLit, Raw: "3", Value: "3"},
			},
		},
		&syntax.ExprStmt{X: &syntax.CallExpr{
			Fun:  &syntax.Ident{NamePos: pos(2, 1), Name: "addResult"},
			Args: []syntax.Expr{&syntax.Ident{NamePos: pos(2, 11), Name: "x"}},
		}},
	}}
	p, errs := compile.Compile(f, compile.Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := disasm(p)
	for _, want := range []string{"CONST     5", "STOREG    x", "OPTG      x", `RESULT    "x"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestFoldingAndPeephole(t *testing.T) {
	p := mustCompile(t, "function f(n) {\n  if(n, 2, \"<\")\n    return(n)\n  end()\n  return(f(n - 1) + f(n - 2))\n}\nt = 0\nstartLoop(i, 1, 10)\n  t = t + i\n  c = c + 1\nendLoop()\ny = 60 * 60 * 24\nz = \"a\" + \"b\"\n")
	got := disasm(p)
	for _, want := range []string{"CMPLK     n < 2", "SUBLK     n 1", "INCGG     t i", "INCG      c 1", "CONST     86400", `CONST     "ab"`, "FORSETG   i = $t0"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	// NoOptimize keeps the plain forms.
	f, _ := syntax.Parse("t.avap", []byte("y = 2 * 3\n"), syntax.Options{})
	p2, _ := compile.Compile(f, compile.Options{NoOptimize: true})
	if !strings.Contains(disasm(p2), "MUL") {
		t.Errorf("NoOptimize folded:\n%s", disasm(p2))
	}
}

func TestSourceMap(t *testing.T) {
	p := mustCompile(t, "x = 1\n\ny = x * z\n")
	main := p.Funcs[0]
	found := false
	for pc, in := range main.Code {
		if in.Op() == compile.LOADG && p.Globals[in.A()] == "z" {
			found = true
			if pos := main.PosAt(pc); pos.Line != 3 || pos.Col != 9 {
				t.Errorf("z at %v, want 3:9", pos)
			}
		}
	}
	if !found {
		t.Fatal("no LOADG z")
	}
}

func TestResolver(t *testing.T) {
	p := mustCompile(t, "g = 1\nfunction f(a) {\n  b = a + g\n  addVar(c, b)\n  startLoop(i, 1, 2)\n  endLoop()\n  return($g)\n}\nr = f(1)\n")
	fn := p.Funcs[1]
	if got := strings.Join(fn.LocalNames, ","); got != "a,b,c,i,," {
		t.Errorf("locals = %q", got)
	}
	if fn.NumParams != 1 {
		t.Errorf("params = %d", fn.NumParams)
	}
}

func TestCompileErrorsSorted(t *testing.T) {
	f, err := syntax.Parse("t.avap", []byte("addVar(1, 2)\nfunction f() {\n}\nfunction f() {\n}\naddVar(a, 1, 2)\n"), syntax.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, errs := compile.Compile(f, compile.Options{})
	if len(errs) != 3 {
		t.Fatalf("errors = %v", errs)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Pos.Line < errs[i-1].Pos.Line {
			t.Errorf("not sorted: %v", errs)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	p := mustCompile(t, "x = [1, 2.5, \"s\", None, True]\nfunction f(a) {\n  return(a * 2)\n}\ny = f(3)\n")
	var hash [32]byte
	hash[0] = 7
	b, err := compile.Encode(p, hash)
	if err != nil {
		t.Fatal(err)
	}
	q, h, err := compile.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if h != hash || disasm(q) != disasm(p) {
		t.Errorf("round trip differs:\n%s\n%s", disasm(p), disasm(q))
	}
	b[4] = 99
	if _, _, err := compile.Decode(b); err == nil {
		t.Error("bad version accepted")
	}
}
