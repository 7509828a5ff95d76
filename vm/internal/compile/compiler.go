// Package compile turns a parsed AVAP file (vm/syntax) into bytecode for
// the machine in package vm: resolver (locals, globals, functions,
// commands), code generation with a source map, constant folding, a
// peephole pass, and the versioned binary encoding.
package compile

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/avapmesh/avap/vm/syntax"
)

// Error is one compile error.
type Error struct {
	Pos syntax.Pos
	Msg string
}

func (e Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg) }

// Options tune the compiler.
type Options struct {
	MaxNesting int // deepest statement/expression nesting; 0 = 200
	NoOptimize bool
}

// Compile compiles a parsed file. On errors it returns a nil Program and
// every error found, sorted by position.
func Compile(f *syntax.File, opts Options) (*Program, []Error) {
	if opts.MaxNesting <= 0 {
		opts.MaxNesting = 200
	}
	c := &compiler{
		opts:    opts,
		prog:    &Program{Name: f.Name, Consts: make([]Const, 0, 16), Globals: make([]string, 0, 16)},
		globals: map[string]int{},
		strs:    map[string]int{},
		funcs:   map[string]int{},
		calls:   map[string]bool{},
	}
	// Hoist every function declaration, wherever it appears.
	var decls []*syntax.FuncDecl
	var collect func([]syntax.Stmt)
	collect = func(stmts []syntax.Stmt) {
		for _, s := range stmts {
			switch s := s.(type) {
			case *syntax.FuncDecl:
				decls = append(decls, s)
				collect(s.Body)
			case *syntax.IfStmt:
				collect(s.Then)
				collect(s.ElseBody)
			case *syntax.LoopStmt:
				collect(s.Body)
			case *syntax.TryStmt:
				collect(s.Body)
				collect(s.Handler)
			case *syntax.AsyncStmt:
				collect(s.Body)
			}
		}
	}
	collect(f.Stmts)
	c.prog.Funcs = make([]*Func, 1+len(decls))
	c.prog.Funcs[0] = &Func{Name: ""}
	for i, d := range decls {
		c.prog.Funcs[i+1] = &Func{Name: "<invalid>", Pos: d.Func}
		if d.Name == nil {
			continue
		}
		if _, dup := c.funcs[d.Name.Name]; dup {
			c.errorf(d.Name.Pos(), "function %s redeclared", d.Name.Name)
			continue
		}
		c.funcs[d.Name.Name] = i + 1
		c.prog.Funcs[i+1] = &Func{Name: d.Name.Name, Pos: d.Func, NumParams: len(d.Params)}
	}
	// Top level.
	c.compileFunc(c.prog.Funcs[0], nil, f.Stmts, syntax.Pos{Line: 1, Col: 1})
	for i, d := range decls {
		fn := c.prog.Funcs[i+1]
		if d.Name == nil || c.funcs[d.Name.Name] != i+1 {
			fn.Name = "<invalid>"
			fn.Code = []Instr{MakeInstr(NONE, 0, 0), MakeInstr(RETURN, 0, 0)}
			fn.MaxStack = 1
			continue
		}
		c.compileFunc(fn, d, d.Body, d.Rbrace)
	}
	for i := 0; i < len(c.async); i++ { // blocks may nest
		a := c.async[i]
		c.compileAsync(a.fn, a.stmt)
	}
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool {
			a, b := c.errs[i].Pos, c.errs[j].Pos
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, c.errs
	}
	c.prog.Calls = make([]string, 0, len(c.calls))
	for name := range c.calls {
		c.prog.Calls = append(c.prog.Calls, name)
	}
	c.prog.index = c.globals
	sort.Strings(c.prog.Calls)
	return c.prog, nil
}

type compiler struct {
	opts    Options
	prog    *Program
	globals map[string]int
	strs    map[string]int // string constant → index
	funcs   map[string]int
	calls   map[string]bool
	errs    []Error
	async   []asyncBody // go_async blocks waiting to be compiled
}

// asyncBody is a go_async block compiled as a hidden function.
type asyncBody struct {
	fn   *Func
	stmt *syntax.AsyncStmt
}

func (c *compiler) errorf(pos syntax.Pos, format string, args ...any) {
	if len(c.errs) >= 100 {
		return
	}
	c.errs = append(c.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) global(name string) uint32 {
	if i, ok := c.globals[name]; ok {
		return uint32(i)
	}
	i := len(c.prog.Globals)
	c.prog.Globals = append(c.prog.Globals, name)
	c.globals[name] = i
	return uint32(i)
}

func (c *compiler) constant(k Const) uint32 {
	if k.Kind == ConstString {
		if i, ok := c.strs[k.Str]; ok {
			return uint32(i)
		}
		c.strs[k.Str] = len(c.prog.Consts)
	} else {
		for i, x := range c.prog.Consts {
			// Compare float bits so that 0.0 and -0.0 stay distinct (NaN is
			// never equal and gets its own entry).
			if x.Kind == k.Kind && x.Int == k.Int && (x.Float == k.Float && math.Signbit(x.Float) == math.Signbit(k.Float)) {
				return uint32(i)
			}
		}
	}
	c.prog.Consts = append(c.prog.Consts, k)
	return uint32(len(c.prog.Consts) - 1)
}

func (c *compiler) str(s string) uint32 { return c.constant(Const{Kind: ConstString, Str: s}) }

// ---------------------------------------------------------------------------
// Per-function state

type ins struct {
	op  Op
	a   uint32
	b   uint32 // label number for jumps until layout
	pos syntax.Pos
}

func isJump(op Op) bool {
	switch op {
	case JUMP, JUMPF, JUMPT, JUMPFKEEP, JUMPTKEEP, FORPREP, FORNEXT, TRY:
		return true
	}
	return false
}

type fstate struct {
	c      *compiler
	fn     *Func
	top    bool           // top level: every name is global
	async  bool           // body of a go_async block
	locals map[string]int // function: named local slots
	code   []ins
	labels []int // label → instruction index (-1 until placed)
	depth  int
	max    int
	temps  int // hidden slots in use
	nest   int
	pos    syntax.Pos // position attached to emitted instructions
}

func (c *compiler) compileFunc(fn *Func, d *syntax.FuncDecl, body []syntax.Stmt, end syntax.Pos) {
	fs := &fstate{c: c, fn: fn, top: d == nil, code: make([]ins, 0, 64), labels: make([]int, 0, 16)}
	if d != nil {
		fs.locals = map[string]int{}
		for _, p := range d.Params {
			if p == nil {
				continue
			}
			if _, dup := fs.locals[p.Name]; dup {
				c.errorf(p.Pos(), "duplicate parameter %s", p.Name)
			}
			fs.addLocal(p.Name)
		}
		for len(fn.LocalNames) < fn.NumParams { // keep parameter slots positional
			fs.addLocal("")
		}
		fs.collectLocals(body)
	}
	fs.pos = fn.Pos
	fs.stmts(body)
	fs.pos = end
	fs.emit(NONE, 0, 0)
	fs.emit(RETURN, 0, 0)
	fs.finish()
}

// compileAsync compiles the body of a go_async block as a function
// without parameters whose assignments are locals; it returns the dict of
// its variables (LOCALS) for gather to merge.
func (c *compiler) compileAsync(fn *Func, s *syntax.AsyncStmt) {
	fs := &fstate{c: c, fn: fn, async: true, locals: map[string]int{}, code: make([]ins, 0, 32), labels: make([]int, 0, 8)}
	fs.collectLocals(s.Body)
	fs.pos = s.Go
	fs.stmts(s.Body)
	fs.pos = s.End
	fs.emit(LOCALS, 0, 0)
	fs.emit(RETURN, 0, 0)
	fs.finish()
}

func (fs *fstate) addLocal(name string) int {
	i := len(fs.fn.LocalNames)
	fs.fn.LocalNames = append(fs.fn.LocalNames, name)
	if name == "" {
		fs.fn.Fallback = append(fs.fn.Fallback, NoSlot)
	} else {
		fs.fn.Fallback = append(fs.fn.Fallback, fs.c.global(name))
		fs.locals[name] = i
	}
	return i
}

// collectLocals finds every name a function body writes (Part A #6).
func (fs *fstate) collectLocals(stmts []syntax.Stmt) {
	add := func(id *syntax.Ident) {
		if id == nil || id.Name == "" || fs.globalOnly(id.Name) {
			return
		}
		if _, ok := fs.locals[id.Name]; !ok {
			fs.addLocal(id.Name)
		}
	}
	var expr func(syntax.Expr)
	expr = func(e syntax.Expr) {
		walkExpr(e, func(x syntax.Expr) {
			call, ok := x.(*syntax.CallExpr)
			if !ok {
				return
			}
			id, ok := call.Fun.(*syntax.Ident)
			if !ok {
				return
			}
			if _, user := fs.c.funcs[id.Name]; user {
				return
			}
			cmd, ok := LookupCommand(id.Name)
			if !ok {
				return
			}
			for i, k := range paramsFor(&commands[cmd], len(call.Args)) {
				if (k == Target || k == Update) && i < len(call.Args) {
					if name, ok := nameOf(call.Args[i]); ok && name != "" {
						add(&syntax.Ident{Name: name})
					}
				}
			}
		})
	}
	var walk func([]syntax.Stmt)
	walk = func(stmts []syntax.Stmt) {
		for _, s := range stmts {
			switch s := s.(type) {
			case *syntax.ExprStmt:
				expr(s.X)
			case *syntax.AssignStmt:
				add(s.Target)
				expr(s.Value)
			case *syntax.IfStmt:
				expr(s.Left)
				expr(s.Right)
				expr(s.Cond)
				walk(s.Then)
				walk(s.ElseBody)
			case *syntax.LoopStmt:
				add(s.Var)
				expr(s.From)
				expr(s.To)
				walk(s.Body)
			case *syntax.TryStmt:
				walk(s.Body)
				add(s.ErrVar)
				add(s.ErrTarget)
				walk(s.Handler)
			case *syntax.ReturnStmt:
				expr(s.Value)
			case *syntax.AsyncStmt:
				expr(s.ID) // the block itself is a separate scope
			}
		}
	}
	walk(stmts)
}

// walkExpr calls f for e and every sub-expression (nil-safe).
func walkExpr(e syntax.Expr, f func(syntax.Expr)) {
	if e == nil {
		return
	}
	f(e)
	switch e := e.(type) {
	case *syntax.ListLit:
		for _, x := range e.Elems {
			walkExpr(x, f)
		}
	case *syntax.TupleLit:
		for _, x := range e.Elems {
			walkExpr(x, f)
		}
	case *syntax.DictLit:
		for _, x := range e.Keys {
			walkExpr(x, f)
		}
		for _, x := range e.Values {
			walkExpr(x, f)
		}
	case *syntax.ParenExpr:
		walkExpr(e.X, f)
	case *syntax.UnaryExpr:
		walkExpr(e.X, f)
	case *syntax.BinaryExpr:
		// Iterate down the left spine: long chains (a + b + c ...) must not
		// recurse once per operator.
		for {
			walkExpr(e.Y, f)
			l, ok := e.X.(*syntax.BinaryExpr)
			if !ok {
				walkExpr(e.X, f)
				break
			}
			f(l)
			e = l
		}
	case *syntax.CondExpr:
		walkExpr(e.Then, f)
		walkExpr(e.Cond, f)
		walkExpr(e.Else, f)
	case *syntax.IndexExpr:
		walkExpr(e.X, f)
		walkExpr(e.Index, f)
	case *syntax.SliceExpr:
		walkExpr(e.X, f)
		walkExpr(e.Lo, f)
		walkExpr(e.Hi, f)
		walkExpr(e.Step, f)
	case *syntax.AttrExpr:
		walkExpr(e.X, f)
	case *syntax.CallExpr:
		walkExpr(e.Fun, f)
		for _, x := range e.Args {
			walkExpr(x, f)
		}
	}
}

func (fs *fstate) newLabel() int {
	fs.labels = append(fs.labels, -1)
	return len(fs.labels) - 1
}

func (fs *fstate) place(l int) { fs.labels[l] = len(fs.code) }

// stackEffect returns the change of the operand stack depth.
func stackEffect(op Op, a, b uint32) int {
	switch op {
	case NOP, JUMP, FORNEXT, FORSETL, FORSETG, TRY, ENDTRY, INCG, INCL, INCGG, INCLL:
		return 0
	case CONST, NONE, TRUE, FALSE, SMALL, DUP, LOADL, LOADG, OPTL, OPTG, LOADTMP, ERRMSG, LOCALS,
		ADDLK, SUBLK, ADDGG, ADDLL, CMPLK, CMPGK, UNKNOWN, FAIL:
		return 1
	case POP, STOREL, STOREG, JUMPF, JUMPT, JUMPFKEEP, JUMPTKEEP, RESULT, RETURN:
		return -1
	case ORTEXT, NEG, POS, INVERT, NOT, ATTR:
		return 0
	case ADD, SUB, MUL, DIV, MOD, POW, BAND, BOR, BXOR, SHL, SHR, EQ, NE, LT, LE, GT, GE,
		IN, NOTIN, IS, ISNOT, CMP, INDEX:
		return -1
	case ADDSTG, ADDSTL, FORPREP:
		return -2
	case LIST, TMPL:
		return 1 - int(a)
	case DICT:
		return 1 - 2*int(a)
	case SLICE:
		n := 0
		for i := 0; i < 3; i++ {
			if a&(1<<i) != 0 {
				n++
			}
		}
		return -n
	case CALL, BUILTIN, CMD:
		return 1 - int(b)
	}
	panic(fmt.Sprintf("compile: no stack effect for %v", op))
}

func (fs *fstate) emit(op Op, a, b uint32) {
	if a > MaxA {
		fs.c.errorf(fs.pos, "program too large (operand %d)", a)
		a = 0
	}
	fs.code = append(fs.code, ins{op: op, a: a, b: b, pos: fs.pos})
	fs.depth += stackEffect(op, a, b)
	if fs.depth > fs.max {
		fs.max = fs.depth
	}
}

func (fs *fstate) emitJump(op Op, a uint32, label int) { fs.emit(op, a, uint32(label)) }

// move sets the position attached to emitted instructions and returns
// the previous one for restore.
func (fs *fstate) move(p syntax.Pos) syntax.Pos {
	old := fs.pos
	if p.IsValid() {
		fs.pos = p
	}
	return old
}

func (fs *fstate) restore(p syntax.Pos) { fs.pos = p }

func (fs *fstate) enter(p syntax.Pos) bool {
	fs.nest++
	if fs.nest > fs.c.opts.MaxNesting {
		fs.c.errorf(p, "nesting too deep (more than %d levels)", fs.c.opts.MaxNesting)
		return false
	}
	return true
}

func (fs *fstate) leave() { fs.nest-- }

func (fs *fstate) allocTemps(n int) uint32 {
	base := fs.temps
	fs.temps += n
	return uint32(base) // relative; rebased in finish()
}

func (fs *fstate) freeTemps(n int) { fs.temps -= n }

// ---------------------------------------------------------------------------
// Names

func (fs *fstate) loadName(name string, pos syntax.Pos) {
	defer fs.restore(fs.move(pos))
	if !fs.top {
		if i, ok := fs.locals[name]; ok {
			fs.emit(LOADL, uint32(i), 0)
			return
		}
	}
	fs.emit(LOADG, fs.c.global(name), 0)
}

func (fs *fstate) optName(name string, pos syntax.Pos) {
	defer fs.restore(fs.move(pos))
	if !fs.top {
		if i, ok := fs.locals[name]; ok {
			fs.emit(OPTL, uint32(i), 0)
			return
		}
	}
	fs.emit(OPTG, fs.c.global(name), 0)
}

func (fs *fstate) storeName(name string, pos syntax.Pos) {
	defer fs.restore(fs.move(pos))
	if !fs.top && !fs.globalOnly(name) {
		i, ok := fs.locals[name]
		if !ok { // collectLocals missed it (should not happen); make it local
			i = fs.addLocal(name)
		}
		fs.emit(STOREL, uint32(i), 0)
		return
	}
	fs.emit(STOREG, fs.c.global(name), 0)
}

// nameOf returns the variable name written as a bare identifier or a quoted
// string holding an identifier (Part A #19); "" for an empty slot.
func nameOf(e syntax.Expr) (string, bool) {
	switch e := e.(type) {
	case nil:
		return "", true
	case *syntax.Ident:
		return e.Name, true
	case *syntax.BasicLit:
		if e.Kind == syntax.StringLit {
			if e.Value == "" {
				return "", true
			}
			if isIdent(e.Value) {
				return e.Value, true
			}
		}
	}
	return "", false
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		case r > 127 && i >= 0:
			// Unicode letters are accepted as the scanner accepts them.
		default:
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Statements

func (fs *fstate) stmts(list []syntax.Stmt) {
	for _, s := range list {
		fs.stmt(s)
	}
}

func (fs *fstate) stmt(s syntax.Stmt) {
	if s == nil {
		return
	}
	if !fs.enter(s.Pos()) {
		fs.leave()
		return
	}
	defer fs.leave()
	defer fs.restore(fs.move(s.Pos()))
	depth := fs.depth
	switch s := s.(type) {
	case *syntax.ExprStmt:
		if s.X == nil {
			return
		}
		fs.call(s.X, nil, false)
	case *syntax.AssignStmt:
		if call, ok := s.Value.(*syntax.CallExpr); ok {
			fs.call(call, s.Target, false)
			break
		}
		fs.expr(s.Value)
		fs.storeName(s.Target.Name, s.Target.Pos())
	case *syntax.IfStmt:
		fs.ifStmt(s)
	case *syntax.LoopStmt:
		fs.loopStmt(s)
	case *syntax.TryStmt:
		fs.tryStmt(s)
	case *syntax.FuncDecl:
		// Hoisted; compiled separately.
	case *syntax.ReturnStmt:
		if s.Value != nil {
			fs.expr(s.Value)
		} else {
			fs.emit(NONE, 0, 0)
		}
		if fs.async { // leaving a go_async block early: its result is still its variables
			fs.emit(POP, 0, 0)
			fs.emit(LOCALS, 0, 0)
		}
		fs.emit(RETURN, 0, 0)
	case *syntax.AsyncStmt:
		// The block is a hidden function; the machine runs it as a task on
		// its own goroutine and scope (it lowers the CALL before
		// <go_async> to SPAWN): it reads a snapshot of the variables and
		// its assignments stay in that scope until gather(id) merges them
		// (Part A #12).
		fs.c.calls["go_async"] = true
		fn := &Func{Name: fmt.Sprintf("go_async@%d", s.Go.Line), Pos: s.Go}
		fi := len(fs.c.prog.Funcs)
		fs.c.prog.Funcs = append(fs.c.prog.Funcs, fn)
		fs.c.async = append(fs.c.async, asyncBody{fn: fn, stmt: s})
		fs.valueArg(s.ID)
		fs.emit(CMD, CmdAsyncMark, 0) // no-op kept for the bytecode format
		fs.emit(CALL, uint32(fi), 0)
		fs.emit(CMD, CmdAsyncStore, 3)
		fs.emit(POP, 0, 0)
	case *syntax.ImportStmt:
		what := "import"
		if s.Include {
			what = "include"
		}
		fs.c.errorf(s.Pos(), "%s(%q) must be at the top level of the file", what, s.Path)
	default:
		fs.c.errorf(s.Pos(), "unsupported statement %T", s)
	}
	if fs.depth != depth {
		panic(fmt.Sprintf("compile: stack depth %d after %T at %v, want %d", fs.depth, s, s.Pos(), depth))
	}
}

func (fs *fstate) ifStmt(s *syntax.IfStmt) {
	if s.Op == "" {
		if s.Cond == nil {
			fs.c.errorf(s.Pos(), "if() needs a comparator or a condition")
			return
		}
		fs.expr(s.Cond)
	} else {
		cmp, ok := ParseComparator(s.Op)
		if !ok {
			fs.c.errorf(s.OpPos, "unknown comparator %q", s.Op)
			return
		}
		fs.valueArg(s.Left)
		fs.valueArg(s.Right)
		saved := fs.move(s.OpPos)
		fs.emit(CMP, uint32(cmp), 0)
		fs.restore(saved)
	}
	elseL := fs.newLabel()
	fs.emitJump(JUMPF, 0, elseL)
	fs.stmts(s.Then)
	if s.Else.IsValid() || len(s.ElseBody) > 0 {
		endL := fs.newLabel()
		fs.emitJump(JUMP, 0, endL)
		fs.place(elseL)
		fs.stmts(s.ElseBody)
		fs.place(endL)
	} else {
		fs.place(elseL)
	}
}

func (fs *fstate) loopStmt(s *syntax.LoopStmt) {
	if s.Var == nil {
		fs.c.errorf(s.Pos(), "startLoop needs a loop variable")
		return
	}
	fs.valueArg(s.From)
	fs.valueArg(s.To)
	tmp := fs.allocTemps(2)
	endL, bodyL := fs.newLabel(), fs.newLabel()
	fs.emitJump(FORPREP, tmp|tempFlag, endL)
	fs.place(bodyL)
	if !fs.top {
		fs.emit(FORSETL, uint32(fs.locals[s.Var.Name]), tmp|tempFlag)
	} else {
		fs.emit(FORSETG, fs.c.global(s.Var.Name), tmp|tempFlag)
	}
	fs.stmts(s.Body)
	saved := fs.move(s.End)
	fs.emitJump(FORNEXT, tmp|tempFlag, bodyL)
	fs.restore(saved)
	fs.place(endL)
	fs.freeTemps(2)
}

// tempFlag marks a temp slot number relative to the first temporary until
// finish() rebases it after the named locals.
const tempFlag = 1 << 23

func (fs *fstate) tryStmt(s *syntax.TryStmt) {
	handlerL, endL := fs.newLabel(), fs.newLabel()
	fs.emitJump(TRY, 0, handlerL)
	fs.stmts(s.Body)
	fs.emit(ENDTRY, 0, 0)
	fs.emitJump(JUMP, 0, endL)
	fs.place(handlerL)
	saved := fs.move(s.Exception)
	if s.ErrVar != nil {
		fs.emit(ERRMSG, 0, 0)
		fs.storeName(s.ErrVar.Name, s.ErrVar.Pos())
	}
	if s.ErrTarget != nil {
		fs.emit(ERRMSG, 0, 0)
		fs.storeName(s.ErrTarget.Name, s.ErrTarget.Pos())
	}
	fs.restore(saved)
	fs.stmts(s.Handler)
	fs.place(endL)
}

// ---------------------------------------------------------------------------
// Calls

// call compiles a call statement (assign == nil: result discarded) or the
// right side of `assign = call(...)`. With want the result stays on the
// stack (call inside an expression) and nothing is stored to assign.
func (fs *fstate) call(call *syntax.CallExpr, assign *syntax.Ident, want bool) {
	defer fs.restore(fs.move(call.Pos()))
	store := func() {
		switch {
		case want:
		case assign != nil:
			fs.storeName(assign.Name, assign.Pos())
		default:
			fs.emit(POP, 0, 0)
		}
	}
	id, ok := call.Fun.(*syntax.Ident)
	if !ok {
		if fs.methodCall(call) { // db.query(...): see method.go
			store()
			return
		}
		fs.c.prog.Host = true
		fs.emit(FAIL, fs.c.str("method call is not available on this server"), 0)
		store()
		return
	}
	name := id.Name
	if fi, user := fs.c.funcs[name]; user {
		for _, a := range call.Args {
			if a == nil {
				fs.emit(NONE, 0, 0)
				continue
			}
			fs.expr(a)
		}
		fs.emit(CALL, uint32(fi), uint32(len(call.Args)))
		store()
		return
	}
	if b, ok := lookupBuiltin(name); ok {
		fs.c.calls[name] = true
		if len(call.Args) != 1 {
			fs.c.errorf(call.Pos(), "%s() takes exactly one argument (%d given)", name, len(call.Args))
		}
		for _, a := range call.Args {
			if a == nil {
				fs.emit(NONE, 0, 0)
				continue
			}
			fs.expr(a)
		}
		fs.emit(BUILTIN, uint32(b), uint32(len(call.Args)))
		store()
		return
	}
	if name == "go" && len(call.Args) > 0 {
		if f, ok := call.Args[0].(*syntax.Ident); ok {
			if fi, user := fs.c.funcs[f.Name]; user {
				// h = go(f, args...): the machine runs f as a task (CALL
				// before <go> lowered to SPAWN); gather(h) returns its result.
				fs.c.calls["go"] = true
				fs.emit(CMD, CmdAsyncMark, 0) // no-op kept for the bytecode format
				for _, a := range call.Args[1:] {
					fs.expr(a)
				}
				fs.emit(CALL, uint32(fi), uint32(len(call.Args)-1))
				fs.emit(CMD, CmdGoStore, 2)
				store()
				return
			}
		}
	}
	if cmd, ok := LookupCommand(name); ok {
		fs.c.calls[name] = true
		fs.command(call, cmd, assign, want)
		return
	}
	// Unknown: a runtime error (catchable by try), Part A #7.
	fs.c.calls[name] = true
	fs.emit(UNKNOWN, fs.c.str(name), 0)
	store()
}

func paramsFor(spec *CommandSpec, nargs int) []ParamKind {
	if spec.Alt != nil && nargs == len(spec.Alt) {
		return spec.Alt
	}
	return spec.Params
}

func (fs *fstate) command(call *syntax.CallExpr, cmd int, assign *syntax.Ident, want bool) {
	spec := &commands[cmd]
	if spec.Host {
		fs.c.prog.Host = true
	}
	args := call.Args
	params := paramsFor(spec, len(args))
	if len(args) > len(params) && !spec.Variadic {
		fs.c.errorf(call.Pos(), "%s takes at most %d arguments (%d given)", spec.Name, len(params), len(args))
		args = args[:len(params)]
	}
	if cmd == CmdAddResult {
		fs.addResult(call)
		if want {
			fs.emit(NONE, 0, 0)
		}
		return
	}
	n := 0
	var target string
	var targetPos syntax.Pos
	for i := 0; i < len(params) || i < len(args); i++ {
		kind := Value
		if i < len(params) {
			kind = params[i]
		}
		var arg syntax.Expr
		if i < len(args) {
			arg = args[i]
		}
		switch kind {
		case Value:
			if cmd == CmdAddVar {
				if lit, ok := arg.(*syntax.BasicLit); ok && lit.Kind == syntax.StringLit && isDigits(lit.Value) {
					if v, err := strconv.ParseInt(lit.Value, 10, 64); err == nil {
						fs.emitConst(Const{Kind: ConstInt, Int: v})
						n++
						continue
					}
				}
			}
			fs.valueArg(arg)
			n++
		case Source:
			if name, ok := nameOf(arg); ok {
				if name == "" {
					fs.emit(NONE, 0, 0)
				} else {
					fs.optName(name, arg.Pos())
				}
			} else {
				fs.expr(arg)
			}
			n++
		case Target, Update:
			name, ok := nameOf(arg)
			if !ok {
				fs.c.errorf(arg.Pos(), "argument %d of %s must be a variable name", i+1, spec.Name)
				continue
			}
			target = name
			if arg != nil {
				targetPos = arg.Pos()
			}
			if kind == Update {
				if name == "" {
					fs.emit(NONE, 0, 0)
				} else {
					fs.optName(name, targetPos)
				}
				n++
			} else if spec.Host {
				fs.emitConst(Const{Kind: ConstString, Str: name})
				n++
			}
		}
	}
	fs.emit(CMD, uint32(cmd), uint32(n))
	type store struct {
		name string
		pos  syntax.Pos
	}
	var buf [2]store
	stores := buf[:0]
	if target != "" {
		stores = append(stores, store{target, targetPos})
	}
	if assign != nil && spec.Context && !want {
		stores = append(stores, store{assign.Name, assign.Pos()})
	}
	for i, s := range stores {
		if want || i < len(stores)-1 {
			fs.emit(DUP, 0, 0)
		}
		fs.storeName(s.name, s.pos)
	}
	if len(stores) == 0 && !want {
		fs.emit(POP, 0, 0)
	}
}

func (fs *fstate) addResult(call *syntax.CallExpr) {
	if len(call.Args) == 0 || call.Args[0] == nil {
		fs.c.errorf(call.Pos(), "addResult needs a variable name")
		return
	}
	name, ok := nameOf(call.Args[0])
	if !ok || name == "" {
		fs.c.errorf(call.Args[0].Pos(), "argument of addResult must be a variable name")
		return
	}
	fs.optName(name, call.Args[0].Pos())
	fs.emit(RESULT, fs.c.str(name), 0)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// valueArg compiles a value parameter (Part A #19): a bare identifier is
// the variable if it exists, else its own text.
func (fs *fstate) valueArg(e syntax.Expr) {
	switch x := e.(type) {
	case nil:
		fs.emit(NONE, 0, 0)
	case *syntax.Ident:
		fs.optName(x.Name, x.Pos())
		fs.emit(ORTEXT, fs.c.str(x.Name), 0)
	default:
		fs.expr(e)
	}
}

// ---------------------------------------------------------------------------
// Expressions

func (fs *fstate) emitConst(k Const) {
	switch k.Kind {
	case ConstNone:
		fs.emit(NONE, 0, 0)
	case ConstBool:
		if k.Int != 0 {
			fs.emit(TRUE, 0, 0)
		} else {
			fs.emit(FALSE, 0, 0)
		}
	default:
		fs.emit(CONST, fs.c.constant(k), 0)
	}
}

func binOp(t syntax.Token) (Op, bool) {
	switch t {
	case syntax.ADD:
		return ADD, true
	case syntax.SUB:
		return SUB, true
	case syntax.MUL:
		return MUL, true
	case syntax.QUO:
		return DIV, true
	case syntax.REM:
		return MOD, true
	case syntax.POW:
		return POW, true
	case syntax.AMP:
		return BAND, true
	case syntax.PIPE:
		return BOR, true
	case syntax.CARET:
		return BXOR, true
	case syntax.SHL:
		return SHL, true
	case syntax.SHR:
		return SHR, true
	case syntax.EQL:
		return EQ, true
	case syntax.NEQ:
		return NE, true
	case syntax.LSS:
		return LT, true
	case syntax.LEQ:
		return LE, true
	case syntax.GTR:
		return GT, true
	case syntax.GEQ:
		return GE, true
	case syntax.IN:
		return IN, true
	case syntax.NOT_IN:
		return NOTIN, true
	case syntax.IS:
		return IS, true
	case syntax.IS_NOT:
		return ISNOT, true
	}
	return NOP, false
}

func (fs *fstate) expr(e syntax.Expr) {
	if e == nil {
		fs.emit(NONE, 0, 0)
		return
	}
	if !fs.enter(e.Pos()) {
		fs.leave()
		fs.emit(NONE, 0, 0)
		return
	}
	defer fs.leave()
	if _, chain := e.(*syntax.BinaryExpr); !chain && !fs.c.opts.NoOptimize {
		if k, ok := fold(e); ok {
			defer fs.restore(fs.move(e.Pos()))
			fs.emitConst(k)
			return
		}
	}
	switch x := e.(type) {
	case *syntax.Ident:
		fs.loadName(x.Name, x.Pos())
	case *syntax.GlobalIdent:
		defer fs.restore(fs.move(x.Pos()))
		fs.emit(LOADG, fs.c.global(x.Name), 0)
	case *syntax.BasicLit:
		defer fs.restore(fs.move(x.Pos()))
		k, err := literal(x)
		if err != nil {
			fs.c.errorf(x.Pos(), "%v", err)
		}
		fs.emitConst(k)
	case *syntax.TemplateLit:
		defer fs.restore(fs.move(x.Pos()))
		n := 0
		for _, p := range x.Parts {
			if p.Name == "" {
				if p.Text == "" {
					continue
				}
				fs.emit(CONST, fs.c.str(p.Text), 0)
			} else {
				fs.optName(p.Name, p.Pos)
			}
			n++
		}
		fs.emit(TMPL, uint32(n), 0)
	case *syntax.OpLit:
		fs.c.errorf(x.Pos(), "operator %s is only allowed as the comparator of if()", x.Op)
		fs.emit(NONE, 0, 0)
	case *syntax.ListLit:
		defer fs.restore(fs.move(x.Pos()))
		for _, el := range x.Elems {
			fs.expr(el)
		}
		fs.emit(LIST, uint32(len(x.Elems)), 0)
	case *syntax.TupleLit:
		defer fs.restore(fs.move(x.Pos()))
		for _, el := range x.Elems {
			fs.expr(el)
		}
		fs.emit(LIST, uint32(len(x.Elems)), 1)
	case *syntax.DictLit:
		defer fs.restore(fs.move(x.Pos()))
		if len(x.Keys) != len(x.Values) {
			fs.c.errorf(x.Pos(), "malformed dict literal")
			fs.emit(NONE, 0, 0)
			return
		}
		for i := range x.Keys {
			fs.expr(x.Keys[i])
			fs.expr(x.Values[i])
		}
		fs.emit(DICT, uint32(len(x.Keys)), 0)
	case *syntax.ParenExpr:
		fs.expr(x.X)
	case *syntax.UnaryExpr:
		fs.expr(x.X)
		defer fs.restore(fs.move(x.OpPos))
		switch x.Op {
		case syntax.SUB:
			fs.emit(NEG, 0, 0)
		case syntax.ADD:
			fs.emit(POS, 0, 0)
		case syntax.TILDE:
			fs.emit(INVERT, 0, 0)
		case syntax.NOT:
			fs.emit(NOT, 0, 0)
		default:
			fs.c.errorf(x.OpPos, "unknown unary operator")
		}
	case *syntax.BinaryExpr:
		fs.binaryChain(x)
	case *syntax.CondExpr:
		fs.expr(x.Cond)
		elseL, endL := fs.newLabel(), fs.newLabel()
		fs.emitJump(JUMPF, 0, elseL)
		fs.expr(x.Then)
		fs.emitJump(JUMP, 0, endL)
		fs.depth--
		fs.place(elseL)
		fs.expr(x.Else)
		fs.place(endL)
	case *syntax.IndexExpr:
		fs.expr(x.X)
		fs.expr(x.Index)
		defer fs.restore(fs.move(x.Lbrack))
		fs.emit(INDEX, 0, 0)
	case *syntax.SliceExpr:
		fs.expr(x.X)
		var mask uint32
		for i, p := range []syntax.Expr{x.Lo, x.Hi, x.Step} {
			if p != nil {
				fs.expr(p)
				mask |= 1 << i
			}
		}
		defer fs.restore(fs.move(x.Lbrack))
		fs.emit(SLICE, mask, 0)
	case *syntax.AttrExpr:
		fs.expr(x.X)
		if x.Name == nil {
			fs.c.errorf(x.Pos(), "missing attribute name")
			return
		}
		defer fs.restore(fs.move(x.Name.Pos()))
		fs.emit(ATTR, fs.c.str(x.Name.Name), 0)
	case *syntax.CallExpr:
		fs.call(x, nil, true)
	default:
		fs.c.errorf(e.Pos(), "unsupported expression %T", e)
		fs.emit(NONE, 0, 0)
	}
}

// binaryChain compiles a binary expression and the binary expressions down
// its left spine iteratively (a + b + c + ... is left-nested), folding the
// constant bottom of the chain.
func (fs *fstate) binaryChain(top *syntax.BinaryExpr) {
	var buf [8]*syntax.BinaryExpr
	spine := append(buf[:0], top)
	for l, ok := top.X.(*syntax.BinaryExpr); ok; l, ok = l.X.(*syntax.BinaryExpr) {
		spine = append(spine, l)
	}
	leaf := spine[len(spine)-1].X
	i := len(spine) - 1
	if k, rest := foldSpine(spine, leaf, fs.c.opts.NoOptimize); rest != notFolded {
		i = rest
		at := leaf.Pos()
		saved := fs.move(at)
		fs.emitConst(k)
		fs.restore(saved)
	} else {
		fs.expr(leaf)
	}
	for ; i >= 0; i-- {
		b := spine[i]
		if b.Op == syntax.AND || b.Op == syntax.OR {
			l := fs.newLabel()
			op := JUMPFKEEP
			if b.Op == syntax.OR {
				op = JUMPTKEEP
			}
			saved := fs.move(b.OpPos)
			fs.emitJump(op, 0, l)
			fs.restore(saved)
			fs.expr(b.Y)
			fs.place(l)
			continue
		}
		op, ok := binOp(b.Op)
		if !ok {
			fs.c.errorf(b.OpPos, "unknown binary operator")
			op = ADD
		}
		fs.expr(b.Y)
		saved := fs.move(b.OpPos)
		fs.emit(op, 0, 0)
		fs.restore(saved)
	}
}

// notFolded is foldSpine's result when not even the leaf is constant.
const notFolded = -2

// foldSpine folds the constant bottom of a left-nested chain (spine[0] is
// the top, leaf the left operand of the last). It returns the constant and
// the index of the lowest level still to compile, -1 when the whole chain
// folded, or notFolded.
func foldSpine(spine []*syntax.BinaryExpr, leaf syntax.Expr, noOpt bool) (Const, int) {
	if noOpt {
		return Const{}, notFolded
	}
	k, ok := fold(leaf)
	if !ok {
		return Const{}, notFolded
	}
	i := len(spine) - 1
	for ; i >= 0; i-- {
		b := spine[i]
		if b.Op == syntax.AND || b.Op == syntax.OR {
			break
		}
		y, ok := fold(b.Y)
		if !ok {
			break
		}
		r, ok := foldBinary(b.Op, k, y)
		if !ok {
			break
		}
		k = r
	}
	return k, i
}

func literal(x *syntax.BasicLit) (Const, error) {
	switch x.Kind {
	case syntax.IntLit:
		v, err := strconv.ParseInt(strings.ReplaceAll(x.Value, "_", ""), 0, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(x.Value, 64)
			if ferr == nil && !math.IsInf(f, 0) {
				return Const{Kind: ConstInt}, fmt.Errorf("integer literal %s out of range", x.Raw)
			}
			return Const{Kind: ConstInt}, fmt.Errorf("bad integer literal %s", x.Raw)
		}
		return Const{Kind: ConstInt, Int: v}, nil
	case syntax.FloatLit:
		v, err := strconv.ParseFloat(strings.ReplaceAll(x.Value, "_", ""), 64)
		if err != nil && !math.IsInf(v, 0) {
			return Const{Kind: ConstFloat}, fmt.Errorf("bad float literal %s", x.Raw)
		}
		return Const{Kind: ConstFloat, Float: v}, nil
	case syntax.StringLit:
		return Const{Kind: ConstString, Str: x.Value}, nil
	case syntax.NoneLit:
		return Const{Kind: ConstNone}, nil
	case syntax.TrueLit:
		return Const{Kind: ConstBool, Int: 1}, nil
	case syntax.FalseLit:
		return Const{Kind: ConstBool}, nil
	}
	return Const{}, fmt.Errorf("unknown literal %s", x.Raw)
}

// ---------------------------------------------------------------------------
// Layout

func (fs *fstate) finish() {
	fn := fs.fn
	named := len(fn.LocalNames)
	// Rebase temporaries after the named locals.
	maxTemps := 0
	for i := range fs.code {
		in := &fs.code[i]
		switch in.op {
		case FORPREP, FORNEXT:
			in.a = in.a&^tempFlag + uint32(named)
			maxTemps = max(maxTemps, int(in.a)-named+2)
		case FORSETL, FORSETG:
			in.b = in.b&^tempFlag + uint32(named)
		}
	}
	for i := 0; i < maxTemps; i++ {
		fn.LocalNames = append(fn.LocalNames, "")
		fn.Fallback = append(fn.Fallback, NoSlot)
	}
	fn.NumLocals = len(fn.LocalNames)
	if !fs.c.opts.NoOptimize {
		fs.peephole()
	}
	fn.MaxStack = fs.max + 2
	// Resolve labels.
	fn.Code = make([]Instr, len(fs.code))
	fn.Lines = make([]LineEntry, 0, len(fs.code)/2+1)
	var last syntax.Pos
	for i, in := range fs.code {
		b := in.b
		if isJump(in.op) {
			b = uint32(fs.labels[in.b])
		}
		fn.Code[i] = MakeInstr(in.op, in.a, b)
		if i == 0 || in.pos != last {
			fn.Lines = append(fn.Lines, LineEntry{PC: uint32(i), Pos: in.pos})
			last = in.pos
		}
	}
}
