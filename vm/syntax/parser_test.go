package syntax

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// dump returns an S-expression of the tree rooted at n, without positions.
func dump(n Node) string {
	var b strings.Builder
	dumpNode(&b, n)
	return b.String()
}

func dumpStmts(b *strings.Builder, tag string, list []Stmt) {
	b.WriteString("(" + tag)
	for _, s := range list {
		b.WriteByte(' ')
		dumpNode(b, s)
	}
	b.WriteByte(')')
}

func dumpExprs(b *strings.Builder, list []Expr) {
	for _, x := range list {
		b.WriteByte(' ')
		dumpNode(b, x)
	}
}

func dumpNode(b *strings.Builder, n Node) {
	w := func(args ...any) {
		for _, a := range args {
			switch a := a.(type) {
			case nil:
				b.WriteString("_")
			case string:
				b.WriteString(a)
			case Node:
				dumpNode(b, a)
			default:
				fmt.Fprint(b, a)
			}
		}
	}
	switch n := n.(type) {
	case nil:
		w("_")
	case *File:
		for i, s := range n.Stmts {
			if i > 0 {
				w("\n")
			}
			w(s)
		}
	case *ExprStmt:
		if n.X == nil {
			w("_")
			return
		}
		w(n.X)
	case *AssignStmt:
		w("(= ", identOrNil(n.Target), " ", n.Value, ")")
	case *IfStmt:
		w("(if ", n.Left, " ", n.Right, " ")
		if n.Op != "" {
			w(strconv.Quote(n.Op))
		} else {
			w("(cond ", n.Cond, ")")
		}
		w(" ")
		dumpStmts(b, "then", n.Then)
		if n.Else.IsValid() {
			w(" ")
			dumpStmts(b, "else", n.ElseBody)
		}
		w(")")
	case *LoopStmt:
		w("(loop ", identOrNil(n.Var), " ", n.From, " ", n.To, " ")
		dumpStmts(b, "body", n.Body)
		w(")")
	case *TryStmt:
		w("(try ")
		dumpStmts(b, "body", n.Body)
		w(" (exception ", identOrNil(n.ErrVar), " ", identOrNil(n.ErrTarget), ") ")
		dumpStmts(b, "handler", n.Handler)
		w(")")
	case *FuncDecl:
		w("(func ", identOrNil(n.Name), " (")
		for i, x := range n.Params {
			if i > 0 {
				w(" ")
			}
			w(x)
		}
		w(") ")
		dumpStmts(b, "body", n.Body)
		w(")")
	case *ReturnStmt:
		w("(return ", n.Value, ")")
	case *AsyncStmt:
		w("(async ", n.ID, " ")
		dumpStmts(b, "body", n.Body)
		w(")")
	case *ImportStmt:
		if n.Include {
			w("(include ", strconv.Quote(n.Path), ")")
		} else {
			w("(import ", strconv.Quote(n.Path), ")")
		}
	case *Ident:
		w(n.Name)
	case *GlobalIdent:
		w("$", n.Name)
	case *BasicLit:
		switch n.Kind {
		case StringLit:
			w(strconv.Quote(n.Value))
		case NoneLit, TrueLit, FalseLit:
			w(n.Value)
		case IntLit:
			w(n.Value)
		case FloatLit:
			w("(float ", n.Value, ")")
		}
	case *TemplateLit:
		w("(tmpl")
		for _, p := range n.Parts {
			if p.Name != "" {
				w(" $", p.Name)
			} else {
				w(" ", strconv.Quote(p.Text))
			}
		}
		w(")")
	case *OpLit:
		w("(op ", n.Op, ")")
	case *ListLit:
		w("(list")
		dumpExprs(b, n.Elems)
		w(")")
	case *TupleLit:
		w("(tuple")
		dumpExprs(b, n.Elems)
		w(")")
	case *DictLit:
		w("(dict")
		for i := range n.Keys {
			w(" (", n.Keys[i], " ", n.Values[i], ")")
		}
		w(")")
	case *ParenExpr:
		w("(paren ", n.X, ")")
	case *UnaryExpr:
		w("(", n.Op.String(), " ", n.X, ")")
	case *BinaryExpr:
		w("(", n.Op.String(), " ", n.X, " ", n.Y, ")")
	case *CondExpr:
		w("(ifexp ", n.Then, " ", n.Cond, " ", n.Else, ")")
	case *IndexExpr:
		w("(index ", n.X, " ", n.Index, ")")
	case *SliceExpr:
		w("(slice ", n.X, " ", n.Lo, " ", n.Hi, " ", n.Step, ")")
	case *AttrExpr:
		w("(. ", n.X, " ", identOrNil(n.Name), ")")
	case *CallExpr:
		w("(call ", n.Fun)
		dumpExprs(b, n.Args)
		w(")")
	default:
		w(fmt.Sprintf("<%T>", n))
	}
}

// identOrNil avoids a typed nil in a Node interface.
func identOrNil(x *Ident) Node {
	if x == nil {
		return nil
	}
	return x
}

func parseString(t testing.TB, src string) *File {
	t.Helper()
	f, err := Parse("test.avap", []byte(src), Options{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return f
}

var stmtTests = []struct{ src, want string }{
	// Commands and calls.
	{`addVar(a, 1)`, `(call addVar a 1)`},
	{`addVar(greeting, "Hello")`, `(call addVar greeting "Hello")`},
	{`RequestGet(url, , , res)`, `(call RequestGet url _ _ res)`},
	{`f(,)`, `(call f _ _)`},
	{`f(a,)`, `(call f a _)`},
	{`f()`, `(call f)`},
	{`db.query("SELECT 1")`, `(call (. db query) "SELECT 1")`},
	{`a.b.c(1)`, `(call (. (. a b) c) 1)`},
	{`addVar(x, 1) // trailing comment`, `(call addVar x 1)`},
	{`addVar(x, /* inline */ 1)`, `(call addVar x 1)`},
	{`addVar(a, "a=b")`, `(call addVar a "a=b")`},
	{`encodeMD5(` + "`user_${user}`" + `, h)`, `(call encodeMD5 (tmpl "user_" $user) h)`},
	{`f(=, ==, !=, <, >, <=, >=, in)`, `(call f (op =) (op ==) (op !=) (op <) (op >) (op <=) (op >=) (op in))`},
	{`calculate($pvp, 20)`, `(call calculate $pvp 20)`},
	{`a(); b()`, "(call a)\n(call b)"},
	{"\n\n  a()  \n\n", `(call a)`},
	{"a()\r\nb()\r\n", "(call a)\n(call b)"},
	{"\uFEFFa()", "(call a)"},
	{"a() /* multi\nline */ ", "(call a)"},
	{"a() /* multi\nline */ b()", "(call a)\n(call b)"},

	// Assignments.
	{`x = 2 + 3 * 4`, `(= x (+ 2 (* 3 4)))`},
	{`x = RequestGet(url, filters, "", "")`, `(= x (call RequestGet url filters "" ""))`},
	{`res = RequestGet(url, , , "")`, `(= res (call RequestGet url _ _ ""))`},
	{`db = avapConnector("TOKEN")`, `(= db (call avapConnector "TOKEN"))`},
	{`_status = 404`, `(= _status 404)`},
	{`x = [1, 2,
	3,
]`, `(= x (list 1 2 3))`},
	{`d = {
  "a": 1,
  "b": [1,
        2],
}`, `(= d (dict ("a" 1) ("b" (list 1 2))))`},
	{`x = {}`, `(= x (dict))`},
	{`x = []`, `(= x (list))`},
	{`x = ()`, `(= x (tuple))`},
	{`x = (1,)`, `(= x (tuple 1))`},
	{`q = "SELECT %s, %s" % (a, b)`, `(= q (% "SELECT %s, %s" (tuple a b)))`},
	{`end = 1`, `(= end 1)`},
	{`try = exception`, `(= try exception)`},
	{`x = true; y = null; z = False`, "(= x True)\n(= y None)\n(= z False)"},

	// if.
	{"if(a, 1, =)\nend()", `(if a 1 "=" (then))`},
	{"if(a, 1, \"==\")\nend()", `(if a 1 "==" (then))`},
	{"if(a, 1, '>')\nend()", `(if a 1 ">" (then))`},
	{"if(a, b, in)\nend()", `(if a b "in" (then))`},
	{"if(a, b, \"in\")\nend()", `(if a b "in" (then))`},
	{"if(a, b, <=)\nend()", `(if a b "<=" (then))`},
	{"if(a, b, !=)\nend()", `(if a b "!=" (then))`},
	{"if(a, b, >=)\nend()", `(if a b ">=" (then))`},
	{"if(a, b, <)\nend()", `(if a b "<" (then))`},
	{"if(a, , =)\nend()", `(if a _ "=" (then))`},
	{"if(None, None, \"age >= 18 and balance > 100\")\nend()", `(if None None (cond (and (>= age 18) (> balance 100))) (then))`},
	{"if(None, None, `age >= 18`)\nend()", `(if None None (cond (>= age 18)) (then))`},
	{"if(None, None, age >= 18)\nend()", `(if None None (cond (>= age 18)) (then))`},
	{"if(None, None, flag)\nend()", `(if None None (cond flag) (then))`},
	{"if(None, None, \"'x' in s\")\nend()", `(if None None (cond (in "x" s)) (then))`},
	{"if(a, 1, =)\n  x()\nelse()\n  y()\nend()", `(if a 1 "=" (then (call x)) (else (call y)))`},
	{"if(a, 1, =)\nelse()\nend()", `(if a 1 "=" (then) (else))`},
	{"if(a,1,=)\nif(b,2,=)\nx()\nend()\nend()", `(if a 1 "=" (then (if b 2 "=" (then (call x)))))`},
	{"if(a, 1, =); x(); end()", `(if a 1 "=" (then (call x)))`},

	// Loops.
	{"startLoop(i, 1, 5)\n  total = total + i\nendLoop()", `(loop i 1 5 (body (= total (+ total i))))`},
	{"startLoop(\"i\", 0, n - 1)\nendLoop()", `(loop i 0 (- n 1) (body))`},
	{"startLoop(i, 1, 3)\nend()", `(loop i 1 3 (body))`},

	// try.
	{"try()\n  x()\nexception(e)\n  y()\nend()", `(try (body (call x)) (exception e _) (handler (call y)))`},
	{"try()\nexception()\nend()", `(try (body) (exception _ _) (handler))`},
	{"try()\nexception('e')\nend()", `(try (body) (exception e _) (handler))`},
	{"try()\n  x()\nmsg = exception(e)\nend()", `(try (body (call x)) (exception e msg) (handler))`},
	// Lite style: no end(), the handler runs to the end of the block.
	{"try()\n  x()\nexception(e)\n  y()\nz()", `(try (body (call x)) (exception e _) (handler (call y) (call z)))`},
	{"if(a,1,=)\n try()\n x()\n exception(e)\n y()\nelse()\n z()\nend()", `(if a 1 "=" (then (try (body (call x)) (exception e _) (handler (call y)))) (else (call z)))`},
	{"try()\n try()\n  a()\n exception(e1)\n  b()\nexception(e2)\nend()", `(try (body (try (body (call a)) (exception e1 _) (handler (call b)))) (exception e2 _) (handler))`},

	// Functions and return.
	{"function f(a, b) {\n  return(a + b)\n}", `(func f (a b) (body (return (+ a b))))`},
	{"function f()\n{\n}", `(func f () (body))`},
	{"function f() { return(1) }", `(func f () (body (return 1)))`},
	{"function f(){\nreturn x\n}", `(func f () (body (return x)))`},
	{"function f(){\nreturn()\n}", `(func f () (body (return _)))`},
	{"function f(){\nreturn\n}", `(func f () (body (return _)))`},
	{"function f(){\nreturn (a) + 1\n}", `(func f () (body (return (+ (paren a) 1))))`},
	{"function f(){\nreturn (a, b)\n}", `(func f () (body (return (tuple a b))))`},
	{"function f(){\nif(a,1,=)\nreturn(1)\nend()\n}", `(func f () (body (if a 1 "=" (then (return 1)))))`},
	{"function(1)", `(call function 1)`},

	// go_async, import, include.
	{"go_async(t1)\n  x()\nend()", `(async t1 (body (call x)))`},
	{"r = gather(t1, 5)", `(= r (call gather t1 5))`},
	{`import("name@^1.2")`, `(import "name@^1.2")`},
	{`include("lib/util.avap")`, `(include "lib/util.avap")`},
}

func TestParseStmts(t *testing.T) {
	for _, tt := range stmtTests {
		if tt.want == "" {
			continue
		}
		f, err := Parse("test.avap", []byte(tt.src), Options{})
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := dump(f); got != tt.want {
			t.Errorf("Parse(%q)\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

var exprTests = []struct{ src, want string }{
	{`1`, `1`},
	{`3.5`, `(float 3.5)`},
	{`1e3`, `(float 1e3)`},
	{`.5`, `(float .5)`},
	{`5.`, `(float 5.)`},
	{`9223372036854775807`, `9223372036854775807`},
	{`"a\tb\n\\\"\'\0\x41\u00e9\U0001F600"`, strconv.Quote("a\tb\n\\\"'\x00Aé😀")},
	{`'it\'s'`, `"it's"`},
	{`"\d+"`, `"\\d+"`},
	{`"\101"`, `"A"`},
	{`"é"`, `"é"`},
	{"`a ${b} c ${d}`", `(tmpl "a " $b " c " $d)`},
	{"`$x ${y}$`", `(tmpl "$x " $y "$")`},
	{"``", `(tmpl)`},
	{`None`, `None`},
	{`null`, `None`},
	{`True`, `True`},
	{`true`, `True`},
	{`False`, `False`},
	{`false`, `False`},
	{`$x`, `$x`},
	{`-2 ** 2`, `(- (** 2 2))`},
	{`2 ** -1`, `(** 2 (- 1))`},
	{`2 ** 3 ** 2`, `(** 2 (** 3 2))`},
	{`-x`, `(- x)`},
	{`+x`, `(+ x)`},
	{`~x`, `(~ x)`},
	{`- -x`, `(- (- x))`},
	{`a * b + c`, `(+ (* a b) c)`},
	{`a + b * c`, `(+ a (* b c))`},
	{`a - b - c`, `(- (- a b) c)`},
	{`a / b % c`, `(% (/ a b) c)`},
	{`a | b ^ c & d << e + f`, `(| a (^ b (& c (<< d (+ e f)))))`},
	{`a >> 1`, `(>> a 1)`},
	{`a == b`, `(== a b)`},
	{`a != b`, `(!= a b)`},
	{`a < b < c`, `(and (< a b) (< b c))`},
	{`a < b <= c > d`, `(and (and (< a b) (<= b c)) (> c d))`},
	{`a in b`, `(in a b)`},
	{`a not in b`, `(not in a b)`},
	{`a is b`, `(is a b)`},
	{`a is not b`, `(is not a b)`},
	{`not a`, `(not a)`},
	{`not a == b`, `(not (== a b))`},
	{`not not a`, `(not (not a))`},
	{`a and b or c and d`, `(or (and a b) (and c d))`},
	{`a or b or c`, `(or (or a b) c)`},
	{`not a and b`, `(and (not a) b)`},
	{`a if b else c`, `(ifexp a b c)`},
	{`a if b else c if d else e`, `(ifexp a b (ifexp c d e))`},
	{`a or b if c and d else e`, `(ifexp (or a b) (and c d) e)`},
	{`(a + b) * c`, `(* (paren (+ a b)) c)`},
	{`[1, "a", [2]]`, `(list 1 "a" (list 2))`},
	{`{"a": 1, b: c}`, `(dict ("a" 1) (b c))`},
	{`x[0]`, `(index x 0)`},
	{`x[1:2]`, `(slice x 1 2 _)`},
	{`x[:]`, `(slice x _ _ _)`},
	{`x[::2]`, `(slice x _ _ 2)`},
	{`x[1:]`, `(slice x 1 _ _)`},
	{`x[:-1]`, `(slice x _ (- 1) _)`},
	{`x[a:b:c]`, `(slice x a b c)`},
	{`x.y.z`, `(. (. x y) z)`},
	{`users[0].name`, `(. (index users 0) name)`},
	{`str(7)`, `(call str 7)`},
	{`len(x) + 1`, `(+ (call len x) 1)`},
	{`db.query(sql)[0]`, `(index (call (. db query) sql) 0)`},
	{`1 .real`, `(. 1 real)`},
}

func TestParseExpr(t *testing.T) {
	for _, tt := range exprTests {
		if tt.want == "" {
			continue
		}
		x, err := ParseExpr(tt.src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.src, err)
			continue
		}
		if got := dump(x); got != tt.want {
			t.Errorf("ParseExpr(%q)\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

func TestParseExprErrors(t *testing.T) {
	for _, src := range []string{
		``, `1 +`, `a = b`, `(a`, `[a`, `a b`, `"a" "b"`, `x[]`, `x[1`, `{a}`, `f(a`,
		`a if b`, `a not b`, `$`, `#`, `a!b`, `1 = 2`, `(a)(b)`, `None(1)`,
		`"abc`, "`abc", `"\x4"`, `"\ud800"`, `99999999999999999999`, `1e999`, "`${1a}`", "`${a`",
	} {
		if x, err := ParseExpr(src); err == nil {
			t.Errorf("ParseExpr(%q) = %s, want error", src, dump(x))
		}
	}
}

// TestCorpus parses every program of the shared conformance corpus
// (a copy of /work/shared/avap/corpus/*.avap in testdata/corpus): all
// parse, except the two syntax-error cases, which fail on the right line.
func TestCorpus(t *testing.T) {
	// testdata/corpus holds the programs of /work/shared/avap/corpus.
	files, err := filepath.Glob("testdata/corpus/*.avap")
	if err != nil || len(files) < 27 {
		t.Fatalf("corpus missing: %v %d files", err, len(files))
	}
	wantErr := map[string]string{
		"35_error_unclosed_paren.avap": `^35_error_unclosed_paren.avap:2:12: expected '\)' to close '\(' at 2:7, found newline$`,
		"36_error_missing_end.avap":    `^36_error_missing_end.avap:3:1: if at 3:1 has no matching end\(\)$`,
	}
	for _, path := range files {
		name := filepath.Base(path)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(name, src, Options{})
		if f == nil {
			t.Fatalf("%s: nil file", name)
		}
		if re, ok := wantErr[name]; ok {
			if err == nil || !regexp.MustCompile(re).MatchString(err.Error()) {
				t.Errorf("%s: got error %v, want match for %s", name, err, re)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		checkRoundTrip(t, name, f)
	}
}

// checkRoundTrip checks that printing f and parsing the result gives the
// same tree, and that printing is idempotent.
func checkRoundTrip(t testing.TB, name string, f *File) {
	t.Helper()
	out := Format(f)
	// return x is printed return(x), one more level of nesting.
	g, err := Parse(name, out, Options{MaxNesting: DefaultMaxNesting + 1})
	if err != nil {
		t.Fatalf("%s: reparse of printed source failed: %v\nprinted:\n%s", name, err, out)
	}
	if a, b := dump(f), dump(g); a != b {
		t.Fatalf("%s: round trip changed the tree\nbefore: %s\nafter:  %s\nprinted:\n%s", name, a, b, out)
	}
	if out2 := Format(g); string(out2) != string(out) {
		t.Fatalf("%s: printing is not idempotent\nfirst:\n%s\nsecond:\n%s", name, out, out2)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range stmtTests {
		if tt.want == "" {
			continue
		}
		checkRoundTrip(t, tt.src, parseString(t, tt.src))
	}
	for _, tt := range exprTests {
		if tt.want == "" {
			continue
		}
		src := "x = " + tt.src
		checkRoundTrip(t, src, parseString(t, src))
		src = "if(None, None, " + strconv.Quote(tt.src) + ")\nend()"
		if !strings.Contains(tt.src, `\`) {
			checkRoundTrip(t, src, parseString(t, src))
		}
	}
	// Hand-built shapes that need parentheses or a chain.
	for _, src := range []string{
		"x = not a < b < c",
		"x = y and a < b < c",
		"x = a < b < c < d or e",
		"x = a < b and b < c",
		"x = (a < b) < c",
		"x = (-2) ** 2",
		"x = (a ** b) ** c",
		"x = (a if b else c) if d else e",
		"x = -(a + b)",
		"x = 1 .real + 1..real",
		"if(=, =, =)\nend()",
		"if(a, b, \" = \")\nend()",
		"if(None, None, \"'='\")\nend()",
		"if(None, None, `'a\\\\b' in x`)\nend()",
		"if(None, None, 5)\nend()",
		"x = 1 if a < b < c else 2",
		"x = f(a < b < c, not a < b)",
		"x = -a ** -b",
		"x = (not a) == b",
		"x = not (a and b)",
		"x = a - (b - c)",
		"x = \"%s\" % (1,)",
		"x = {(1, 2): [3], 'k': {}}",
		"x = a[b][c:d].e(f)[g]",
		"x = $a.b($c)",
		"x = a not in b is not c",
		"if(None, None, \"a if b else c\")\nend()",
		"if(None, None, 'x == \"y\"')\nend()",
		"function f(a) {\n  return a + (b)\n}",
		"function f(a) {\n  return ((a))\n}",
		"try()\nexception(e)\nx()",
	} {
		checkRoundTrip(t, src, parseString(t, src))
	}
}

func TestFormat(t *testing.T) {
	src := "function f(a,b){\nif(a,b,>)\nstartLoop(i,1,3)\ntry()\nx=a+b*2\nexception(e)\nend()\nendLoop()\nelse()\ngo_async(t)\nreturn a\nend()\nend()\n}\n"
	want := `function f(a, b) {
    if(a, b, ">")
        startLoop(i, 1, 3)
            try()
                x = a + b * 2
            exception(e)
            end()
        endLoop()
    else()
        go_async(t)
            return(a)
        end()
    end()
}
`
	f := parseString(t, src)
	if got := string(Format(f)); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	var b strings.Builder
	if err := Fprint(&b, f); err != nil || b.String() != want {
		t.Errorf("Fprint: %v\n%s", err, b.String())
	}
}

func TestThreeErrors(t *testing.T) {
	src := "addVar(a, 1\n" + // 1: unclosed (
		"x = 1 +\n" + // 2: missing operand
		"ok()\n" +
		"addResult(a) # note\n" // 4: # is not a comment
	_, err := Parse("three.avap", []byte(src), Options{})
	want := "three.avap:1:12: expected ')' to close '(' at 1:7, found newline\n" +
		"three.avap:2:8: expected expression, found newline\n" +
		"three.avap:4:14: illegal character '#' (comments start with //)"
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("errors.As ErrorList: %v", err)
	}
	var one *Error
	if !errors.As(err, &one) || one.Pos != (Pos{Line: 1, Col: 12}) || one.Filename != "three.avap" {
		t.Errorf("errors.As *Error: %+v", one)
	}
}

func TestErrorPositions(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"x = \"abc\n", `1:5: string literal not terminated`},
		{"a()\n  b(1, 'x\n", `2:8: string literal not terminated`},
		{"/* never closed\n\na()", `1:1: comment not terminated`},
		{"if(a,1,=)\n\nx()\n", `1:1: if at 1:1 has no matching end()`},
		{"startLoop(i,1,2)\nx()\nend()\n", ``},
		{"startLoop(i,1,2)\nif(a,b,=)\nendLoop()\n", `2:1: if at 2:1 has no matching end() (found endLoop() at 3:1)`},
		{"function f() {\nx()\n", `1:1: function f at 1:1 has no matching '}'`},
		{"x()\n  end()\n", `2:3: end() without matching if(), try() or go_async()`},
		{"x()\n}\n", `2:1: '}' without matching function`},
		{"if(a,1,=)\nelse()\nelse()\nend()", `3:1: second else() for if at 1:1 (first else() at 2:1)`},
		{"x + 1", `1:1: x + 1 is not a statement (want a call or an assignment)`},
		{"5 = x", `1:1: cannot assign to 5 (only a name can be assigned)`},
		{"x = a = b", `1:7: expected newline or ';' after statement, found '=' (use '==' to compare)`},
		{"x = 99999999999999999999", `1:5: integer literal 99999999999999999999 out of range (64-bit)`},
		{"f(a b)", `1:5: expected ',' or ')' in argument list, found name b`},
		{"x = [1, 2\ny()", `2:1: expected ',' or ']' in list opened at 1:5, found name y`},
		{"x = [1,\n", `2:1: expected ']' to close '[' at 1:5, found end of file`},
		{"x = \"\\x4g\"", `1:6: invalid \x escape: need 2 hex digits`},
		{"x = `a ${1} b`", `1:8: invalid placeholder ${1} in template: want ${name}`},
		{"    if(None, None, \"a >\")\nend()", `1:24: expected expression, found end of file`},
		{"if(None, None, \"a + b c\")\nend()", `1:23: unexpected name c after expression`},
		{"if(a, b)\nend()", `1:1: if() takes 3 arguments (left, right, comparator), found 2`},
		{"if(a, b, )\nend()", `1:10: missing comparator or condition in if()`},
		{"import(name)", `1:8: import() argument must be a string literal`},
		{"if(a,1,=)\nfunction f() {\n}\nend()", `2:1: function declarations are only allowed at top level`},
		{"x = \x00", `1:5: illegal character NUL`},
		{"x = \"\xff\"", `1:6: invalid UTF-8 encoding`},
	} {
		_, err := Parse("", []byte(tt.src), Options{})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Parse(%q):\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

// TestErrorFiles checks the files in testdata/errors. A line may end with
// a marker `// ERROR "regexp" ...`: each regexp must match a distinct error
// reported on that line, and every error must be matched by a marker.
func TestErrorFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.avap")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/errors/*.avap files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := errorMarkers(t, string(src))
			_, err = Parse(filepath.Base(path), src, Options{})
			var list ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			for _, e := range list {
				res := want[e.Pos.Line]
				matched := false
				for i, re := range res {
					if re.MatchString(e.Msg) {
						want[e.Pos.Line] = append(res[:i:i], res[i+1:]...)
						matched = true
						break
					}
				}
				if !matched {
					t.Errorf("unexpected error %s", e)
				}
			}
			for line, res := range want {
				for _, re := range res {
					t.Errorf("%s:%d: no error matching %q", filepath.Base(path), line, re)
				}
			}
		})
	}
}

var (
	markerRE = regexp.MustCompile(`// ERROR((?:\s+(?:"(?:[^"\\]|\\.)*"|` + "`[^`]*`" + `))+)\s*$`)
	quotedRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|` + "`([^`]*)`")
)

// errorMarkers returns the regexps of the error markers by line. A regexp
// is written "like this" (taken as is, except that \" stands for ") or
// `like this`.
func errorMarkers(t *testing.T, src string) map[int32][]*regexp.Regexp {
	want := map[int32][]*regexp.Regexp{}
	for i, line := range strings.Split(src, "\n") {
		m := markerRE.FindStringSubmatch(line)
		if m == nil {
			if strings.Contains(line, "// ERROR") {
				t.Fatalf("line %d: malformed marker", i+1)
			}
			continue
		}
		for _, q := range quotedRE.FindAllStringSubmatch(m[1], -1) {
			re := q[2]
			if strings.HasPrefix(q[0], `"`) {
				re = strings.ReplaceAll(q[1], `\"`, `"`)
			}
			want[int32(i+1)] = append(want[int32(i+1)], regexp.MustCompile(re))
		}
	}
	return want
}

// TestDeepNesting checks that hostile nesting gives a syntax error quickly
// instead of exhausting the stack.
func TestDeepNesting(t *testing.T) {
	const n = 100_000
	for _, src := range []string{
		"x = " + strings.Repeat("(", n),
		"x = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"x = " + strings.Repeat("[", n),
		"x = " + strings.Repeat("{", n),
		"x = " + strings.Repeat("-", n) + "1",
		"x = " + strings.Repeat("not ", n) + "1",
		"x = " + strings.Repeat("2 ** ", n) + "1",
		"x = " + strings.Repeat("a if b else ", n) + "1",
		"f(" + strings.Repeat("g(", n),
		strings.Repeat("if(a,1,=)\n", n),
		strings.Repeat("startLoop(i,1,2)\n", n),
		"if(None, None, \"" + strings.Repeat("(", n) + "\")\nend()",
	} {
		f, err := Parse("deep.avap", []byte(src), Options{MaxSourceBytes: 8 << 20})
		if f == nil || err == nil || !strings.Contains(err.Error(), "nesting too deep") {
			t.Errorf("%.20q...: got %v, want nesting too deep", src, err)
		}
	}
	// Just below the limit is fine.
	src := "x = " + strings.Repeat("(", 150) + "1" + strings.Repeat(")", 150)
	if _, err := Parse("ok.avap", []byte(src), Options{}); err != nil {
		t.Errorf("150 parentheses: %v", err)
	}
	if _, err := Parse("ok.avap", []byte(src), Options{MaxNesting: 100}); err == nil {
		t.Errorf("MaxNesting 100: want error")
	}
}

func TestLimits(t *testing.T) {
	src := []byte(strings.Repeat("a()\n", 100))
	_, err := Parse("big.avap", src, Options{MaxSourceBytes: 100})
	if err == nil || err.Error() != "big.avap:1:1: source too large: 400 bytes (limit 100)" {
		t.Errorf("got %v", err)
	}
	// Many bad lines stop after maxErrors.
	_, err = Parse("bad.avap", []byte(strings.Repeat("#\n", 1000)), Options{})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != maxErrors+1 || list[len(list)-1].Msg != "too many errors" {
		t.Errorf("got %d errors", len(list))
	}
}

func TestPartialFile(t *testing.T) {
	f, err := Parse("p.avap", []byte("a()\nb(\nc()\nif(x,1,=)\nd()\n"), Options{})
	if err == nil {
		t.Fatal("want error")
	}
	want := "(call a)\n(call c)\n(if x 1 \"=\" (then (call d)))"
	if got := dump(f); got != want {
		t.Errorf("partial tree:\n%s\nwant:\n%s", got, want)
	}
	Format(f) // must not panic on a partial tree
}

func TestPositions(t *testing.T) {
	src := "x = 1\nif(None, None, \"a > b\")\n\tf(`t ${v}`)\nend()\n"
	f := parseString(t, src)
	var got []string
	Inspect(f, func(n Node) bool {
		if n != nil {
			got = append(got, fmt.Sprintf("%T@%s", n, n.Pos()))
		}
		return true
	})
	want := "*syntax.File@1:1 *syntax.AssignStmt@1:1 *syntax.Ident@1:1 *syntax.BasicLit@1:5 " +
		"*syntax.IfStmt@2:1 *syntax.BasicLit@2:4 *syntax.BasicLit@2:10 *syntax.BinaryExpr@2:17 " +
		"*syntax.Ident@2:17 *syntax.Ident@2:21 *syntax.ExprStmt@3:2 *syntax.CallExpr@3:2 " +
		"*syntax.Ident@3:2 *syntax.TemplateLit@3:4"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("positions:\n got: %s\nwant: %s", s, want)
	}
	ifs := f.Stmts[1].(*IfStmt)
	if ifs.End != (Pos{Line: 4, Col: 1}) || ifs.Cond.(*BinaryExpr).OpPos != (Pos{Line: 2, Col: 19}) {
		t.Errorf("if positions: End %s, op %s", ifs.End, ifs.Cond.(*BinaryExpr).OpPos)
	}
	tmpl := f.Stmts[1].(*IfStmt).Then[0].(*ExprStmt).X.Args[0].(*TemplateLit)
	if tmpl.Parts[0].Pos != (Pos{Line: 3, Col: 5}) || tmpl.Parts[1].Pos != (Pos{Line: 3, Col: 7}) {
		t.Errorf("template part positions: %+v", tmpl.Parts)
	}
}

func TestTokenString(t *testing.T) {
	for tok := ILLEGAL; tok <= IS_NOT; tok++ {
		if s := tok.String(); s == "" || strings.HasPrefix(s, "Token(") {
			t.Errorf("Token(%d).String() = %q", tok, s)
		}
	}
	if s := Token(200).String(); s != "Token(200)" {
		t.Errorf("got %q", s)
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	l.Add("b", Pos{Line: 2, Col: 1}, "x")
	l.Add("a", Pos{Line: 3, Col: 1}, "y")
	l.Add("a", Pos{Line: 1, Col: 5}, "z")
	l.Add("a", Pos{Line: 1, Col: 2}, "w")
	l.RemoveMultiples()
	if got := l.Error(); got != "a:1:2: w\na:3:1: y\nb:2:1: x" {
		t.Errorf("got %q", got)
	}
	var empty ErrorList
	if empty.Err() != nil {
		t.Error("empty list: Err() != nil")
	}
	if e := (&Error{Msg: "m"}); e.Error() != "m" {
		t.Errorf("got %q", e.Error())
	}
	if e := (&Error{Pos: Pos{Line: 1, Col: 2}, Msg: "m"}); e.Error() != "1:2: m" {
		t.Errorf("got %q", e.Error())
	}
}

const benchSrc = `// typical script
addParam(limit, max)
addVar(status, "processing")
if(max, 0, ">")
  startLoop(idx, 1, max)
    val = idx * 10 + offset
    addVar(tmp, val)
  endLoop()
else()
  addVar(final, "error")
end()
addResult(final)
`

func BenchmarkParse(b *testing.B) {
	src := []byte(benchSrc)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.avap", src, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	f := parseString(b, benchSrc)
	b.ReportAllocs()
	for b.Loop() {
		Format(f)
	}
}
