package syntax

import (
	"fmt"
	"strings"
)

// Default limits used when the corresponding Options field is zero.
const (
	DefaultMaxSourceBytes = 1 << 20
	DefaultMaxNesting     = 200
)

// maxErrors is the number of errors after which Parse gives up.
const maxErrors = 200

// Options bound what Parse accepts.
type Options struct {
	MaxSourceBytes int // longest accepted source; 0 = DefaultMaxSourceBytes
	MaxNesting     int // deepest block plus expression nesting; 0 = DefaultMaxNesting
}

// Parse parses the AVAP program src. name is used in error messages.
//
// It always returns a non-nil *File. If the source has syntax errors, the
// error is an ErrorList holding all of them sorted by position, and the
// File holds what could be parsed.
func Parse(name string, src []byte, opts Options) (*File, error) {
	f := &File{Name: name}
	maxSrc := opts.MaxSourceBytes
	if maxSrc <= 0 {
		maxSrc = DefaultMaxSourceBytes
	}
	if len(src) > maxSrc {
		var errs ErrorList
		errs.Add(name, Pos{Line: 1, Col: 1}, fmt.Sprintf("source too large: %d bytes (limit %d)", len(src), maxSrc))
		return f, errs
	}
	p := newParser(name, string(src), Pos{Line: 1, Col: 1}, opts.MaxNesting)
	p.parseFile(f)
	p.errs.Sort()
	return f, p.errs.Err()
}

// ParseExpr parses a single expression, such as `a + 1 if b else c`. It is
// meant for tests and tools.
func ParseExpr(src string) (Expr, error) {
	p := newParser("", src, Pos{Line: 1, Col: 1}, 0)
	x := p.parseOnlyExpr()
	p.errs.Sort()
	return x, p.errs.Err()
}

type parser struct {
	name string
	sc   Scanner
	errs ErrorList

	lastErrLine int32 // line of the last ordinary error: one per line

	// Current token.
	prev  Token // kind of the previous token
	pos   Pos
	tok   Token
	lit   string
	val   string         // decoded STRING value
	parts []TemplatePart // TEMPLATE parts

	skipNL bool // newlines are insignificant (inside [...] and {...})

	depth      int // block plus expression nesting
	maxDepth   int
	blockDepth int // open blocks, FuncDecl included

	// Scratch stacks, so that each list is allocated once at its final
	// size, in chunks shared by many lists.
	stmtStack []Stmt
	exprStack []Expr
	stmtChunk []Stmt
	exprChunk []Expr
	stmtBuf   [32]Stmt
	exprBuf   [32]Expr

	// Slabs for the most frequent nodes.
	idents  slab[Ident]
	lits    slab[BasicLit]
	calls   slab[CallExpr]
	binarys slab[BinaryExpr]
	exprs   slab[ExprStmt]
	assigns slab[AssignStmt]
}

// carve returns a copy of list in a slice carved out of *chunk; the result
// has no spare capacity, so appending to it never touches its neighbours.
func carve[T any](chunk *[]T, list []T) []T {
	n := len(list)
	if n > 16 {
		return append([]T(nil), list...)
	}
	if n > len(*chunk) {
		size := min(2*cap(*chunk), 128)
		*chunk = make([]T, max(size, 16))
	}
	out := (*chunk)[:n:n]
	copy(out, list)
	*chunk = (*chunk)[n:]
	return out
}

// slab hands out pointers into chunks of Ts: fewer, larger allocations.
type slab[T any] struct{ buf []T }

func (s *slab[T]) new() *T {
	if len(s.buf) == 0 {
		n := 2 * cap(s.buf)
		n = max(n, 8)
		n = min(n, 256)
		s.buf = make([]T, n)
	}
	x := &s.buf[0]
	s.buf = s.buf[1:]
	return x
}

func (p *parser) newIdent(pos Pos, name string) *Ident {
	x := p.idents.new()
	x.NamePos, x.Name = pos, name
	return x
}

func (p *parser) newBinary(x Expr, pos Pos, op Token, y Expr) *BinaryExpr {
	b := p.binarys.new()
	*b = BinaryExpr{X: x, OpPos: pos, Op: op, Y: y}
	return b
}

// bailout aborts the whole parse (nesting too deep, too many errors).
type bailout struct{}

// lineBailout abandons the current statement; the parser resumes at the
// next line.
type lineBailout struct{}

func newParser(name, src string, base Pos, maxNesting int) *parser {
	if maxNesting <= 0 {
		maxNesting = DefaultMaxNesting
	}
	p := &parser{name: name, maxDepth: maxNesting}
	p.stmtStack = p.stmtBuf[:0]
	p.exprStack = p.exprBuf[:0]
	p.sc.init(src, base, p.scanError, 0)
	p.next()
	return p
}

// ---------------------------------------------------------------------------
// Tokens and errors

func (p *parser) next() {
	p.prev = p.tok
	for {
		p.pos, p.tok, p.lit = p.sc.Scan()
		if p.tok != NEWLINE || !p.skipNL {
			break
		}
	}
	switch p.tok {
	case STRING:
		p.val = p.sc.val
	case TEMPLATE:
		p.parts = p.sc.parts
	}
}

// peek returns the kind of the token after the current one.
func (p *parser) peek() Token {
	sc := p.sc
	sc.errh = nil
	for {
		_, tok, _ := sc.Scan()
		if tok != NEWLINE || !p.skipNL {
			return tok
		}
	}
}

func (p *parser) scanError(pos Pos, msg string) { p.error(pos, msg) }

// error records an error unless one was already reported on that line.
func (p *parser) error(pos Pos, msg string) {
	if pos.Line == p.lastErrLine {
		return
	}
	p.lastErrLine = pos.Line
	p.addError(pos, msg)
}

// addError records an error unconditionally.
func (p *parser) addError(pos Pos, msg string) {
	if len(p.errs) >= maxErrors {
		p.errs.Add(p.name, pos, "too many errors")
		panic(bailout{})
	}
	p.errs.Add(p.name, pos, msg)
}

// fail records an error and abandons the current statement.
func (p *parser) fail(pos Pos, msg string) {
	p.error(pos, msg)
	panic(lineBailout{})
}

func (p *parser) failf(pos Pos, format string, args ...any) {
	p.fail(pos, fmt.Sprintf(format, args...))
}

// found describes the current token for "expected X, found Y" messages.
func (p *parser) found() string {
	switch p.tok {
	case NEWLINE:
		return "newline"
	case EOF:
		return "end of file"
	case IDENT:
		return "name " + shorten(p.lit)
	case INT, FLOAT:
		return "number " + shorten(p.lit)
	case STRING:
		return "string " + shorten(p.lit)
	case TEMPLATE:
		return "template " + shorten(p.lit)
	case DOLLAR:
		return "global " + shorten(p.lit)
	case ILLEGAL:
		return "illegal character " + shorten(p.lit)
	case ASSIGN:
		return "'=' (use '==' to compare)"
	}
	return "'" + p.tok.String() + "'"
}

func (p *parser) expect(tok Token, context string) Pos {
	pos := p.pos
	if p.tok != tok {
		p.failf(p.pos, "expected '%s' %s, found %s", tok, context, p.found())
	}
	p.next()
	return pos
}

// expectClose consumes the closing bracket tok of a bracket opened at open.
// what names the list, such as "argument list".
func (p *parser) expectClose(tok Token, open Pos, what string) Pos {
	pos := p.pos
	if p.tok != tok {
		opener := "("
		switch tok {
		case RBRACK:
			opener = "["
		case RBRACE:
			opener = "{"
		}
		if p.tok == NEWLINE || p.tok == EOF || what == "" {
			p.failf(p.pos, "expected '%s' to close '%s' at %s, found %s", tok, opener, open, p.found())
		}
		if tok != RPAREN {
			p.failf(p.pos, "expected ',' or '%s' in %s opened at %s, found %s", tok, what, open, p.found())
		}
		p.failf(p.pos, "expected ',' or '%s' in %s, found %s", tok, what, p.found())
	}
	p.next()
	return pos
}

func (p *parser) enter() {
	p.depth++
	if p.depth > p.maxDepth {
		p.addError(p.pos, "nesting too deep")
		panic(bailout{})
	}
}

func (p *parser) leave() { p.depth-- }

// guard runs f, which parses (part of) one line. If f reports a syntax
// error, guard skips the rest of the line and returns false.
func (p *parser) guard(f func()) (ok bool) {
	depth := p.depth
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(lineBailout); !is {
				panic(r)
			}
			p.depth = depth
			p.skipNL = false
			p.skipLine()
			ok = false
		}
	}()
	f()
	return true
}

// skipLine skips to the next newline (which it leaves as the current token)
// or to the end of the file.
func (p *parser) skipLine() {
	for p.tok != NEWLINE && p.tok != EOF {
		p.next()
	}
}

// stmtEnd checks that a statement ends here: newline, ';', end of file or
// a '}' closing a function body.
func (p *parser) stmtEnd() {
	switch p.tok {
	case NEWLINE, SEMICOLON:
		p.next()
	case EOF, RBRACE:
	default:
		p.failf(p.pos, "expected newline or ';' after statement, found %s", p.found())
	}
}

// ---------------------------------------------------------------------------
// Statements and blocks

// closerKind is the kind of a token sequence that ends a block.
type closerKind uint8

const (
	cNone      closerKind = iota
	cEOF                  // end of file
	cRBrace               // '}' (not consumed)
	cElse                 // else (consumed; "()" follows)
	cEnd                  // end
	cEndLoop              // endLoop
	cException            // [target =] exception
)

// closer is a block terminator found at the start of a statement. Its
// keyword has been consumed; its argument list has not.
type closer struct {
	kind   closerKind
	pos    Pos
	target *Ident // x in `x = exception(e)`
}

func (c closer) keyword() string {
	switch c.kind {
	case cElse:
		return "else"
	case cEnd:
		return "end"
	case cEndLoop:
		return "endLoop"
	case cException:
		return "exception"
	}
	return ""
}

func (c closer) String() string {
	switch c.kind {
	case cEOF:
		return "end of file"
	case cRBrace:
		return "'}' at " + c.pos.String()
	case cElse:
		return "else() at " + c.pos.String()
	case cEnd:
		return "end() at " + c.pos.String()
	case cEndLoop:
		return "endLoop() at " + c.pos.String()
	case cException:
		return "exception() at " + c.pos.String()
	}
	return "?"
}

func (p *parser) parseFile(f *File) {
	defer func() {
		if r := recover(); r != nil {
			switch r.(type) {
			case bailout, lineBailout:
			default:
				panic(r)
			}
		}
	}()
	for {
		c := p.parseBlock(&f.Stmts)
		if c.kind == cEOF {
			return
		}
		p.strayCloser(c)
	}
}

// parseBlock appends statements to list until a block terminator, which it
// returns.
func (p *parser) parseBlock(list *[]Stmt) closer {
	mark := len(p.stmtStack)
	defer func() {
		if n := len(p.stmtStack) - mark; n > 0 {
			if len(*list) == 0 {
				*list = carve(&p.stmtChunk, p.stmtStack[mark:])
			} else {
				*list = append(*list, p.stmtStack[mark:]...)
			}
			clear(p.stmtStack[mark:])
			p.stmtStack = p.stmtStack[:mark]
		}
	}()
	for {
		switch p.tok {
		case NEWLINE, SEMICOLON:
			p.next()
			continue
		case EOF:
			return closer{kind: cEOF, pos: p.pos}
		case RBRACE:
			return closer{kind: cRBrace, pos: p.pos}
		}
		s, c := p.parseStmt()
		if s != nil {
			p.stmtStack = append(p.stmtStack, s)
		}
		if c.kind != cNone {
			return c
		}
	}
}

// strayCloser reports a terminator that closes no open block and skips its
// line.
func (p *parser) strayCloser(c closer) {
	var msg string
	switch c.kind {
	case cRBrace:
		msg = "'}' without matching function"
	case cElse:
		msg = "else() without matching if()"
	case cEnd:
		msg = "end() without matching if(), try() or go_async()"
	case cEndLoop:
		msg = "endLoop() without matching startLoop()"
	case cException:
		msg = "exception() without matching try()"
	}
	p.addError(c.pos, msg)
	p.lastErrLine = c.pos.Line
	if c.kind == cRBrace {
		p.next()
	}
	p.skipLine()
}

// unclosed reports a block opened at open that a foreign terminator c cut
// short.
func (p *parser) unclosed(open Pos, what, want string, c closer) {
	msg := fmt.Sprintf("%s at %s has no matching %s", what, open, want)
	if c.kind != cEOF {
		msg += " (found " + c.String() + ")"
	}
	p.addError(open, msg)
}

// closerArgs parses the argument list of a terminator: "()" or, for
// exception, "([name])". It returns the exception variable.
func (p *parser) closerArgs(c closer) (errVar *Ident) {
	p.guard(func() {
		name := c.keyword()
		if p.tok != LPAREN {
			p.failf(p.pos, "expected '(' after %s, found %s", name, p.found())
		}
		_, args, _ := p.parseArgs()
		switch {
		case c.kind == cException && len(args) == 1:
			errVar = p.nameArg(args[0], "exception()")
		case len(args) > 0 && c.kind == cException:
			p.error(c.pos, "exception() takes one variable name")
		case len(args) > 0:
			p.error(c.pos, name+"() takes no arguments")
		}
		p.stmtEnd()
	})
	return errVar
}

// nameArg converts an argument that names a variable, written bare or
// quoted, to an Ident.
func (p *parser) nameArg(x Expr, what string) *Ident {
	switch x := x.(type) {
	case *Ident:
		return x
	case *BasicLit:
		if x.Kind == StringLit && isIdent(x.Value) && !isLiteralName(x.Value) {
			return &Ident{NamePos: x.ValuePos, Name: x.Value}
		}
	case nil:
		return nil
	}
	p.error(x.Pos(), what+" needs a variable name here")
	return nil
}

func (p *parser) enterBlock() {
	p.enter()
	p.blockDepth++
}

func (p *parser) leaveBlock() {
	p.leave()
	p.blockDepth--
}

// parseStmt parses one statement. A block statement may return a
// terminator that it does not own; a terminator at the start of the line
// is returned as is.
func (p *parser) parseStmt() (Stmt, closer) {
	switch p.tok {
	case IF:
		return p.parseIf()
	case ELSE:
		c := closer{kind: cElse, pos: p.pos}
		p.next()
		return nil, c
	case IDENT:
		switch p.lit {
		case "end", "endLoop", "exception":
			if p.peek() == LPAREN {
				c := closer{kind: cEnd, pos: p.pos}
				switch p.lit {
				case "endLoop":
					c.kind = cEndLoop
				case "exception":
					c.kind = cException
				}
				p.next()
				return nil, c
			}
		case "startLoop":
			if p.peek() == LPAREN {
				return p.parseLoop()
			}
		case "try":
			if p.peek() == LPAREN {
				return p.parseTry(nil)
			}
		case "go_async":
			if p.peek() == LPAREN {
				return p.parseAsync()
			}
		case "function":
			if p.peek() == IDENT {
				return p.parseFunc()
			}
		case "return":
			return p.parseReturn(), closer{}
		case "import", "include":
			if p.peek() == LPAREN {
				return p.parseImport(), closer{}
			}
		}
		if p.peek() == ASSIGN {
			return p.parseAssign()
		}
	}
	var s Stmt
	p.guard(func() {
		x := p.parseExpr()
		if p.tok == ASSIGN {
			p.failf(x.Pos(), "cannot assign to %s (only a name can be assigned)", exprString(x))
		}
		call, ok := x.(*CallExpr)
		if id, isIdent := x.(*Ident); isIdent && isBlockKeyword(id.Name) {
			p.failf(x.Pos(), "%s is not a statement (did you mean %s()?)", id.Name, id.Name)
		}
		if !ok {
			p.failf(x.Pos(), "%s is not a statement (want a call or an assignment)", exprString(x))
		}
		p.stmtEnd()
		es := p.exprs.new()
		es.X = call
		s = es
	})
	return s, closer{}
}

// blockKeywords may not be used as functions in expressions.
func isBlockKeyword(name string) bool {
	switch name {
	case "if", "else", "end", "startLoop", "endLoop", "try", "exception", "function", "return", "go_async", "import", "include":
		return true
	}
	return false
}

func (p *parser) parseAssign() (Stmt, closer) {
	target := p.newIdent(p.pos, p.lit)
	p.next() // name
	p.next() // =
	if p.tok == IDENT && p.lit == "exception" && p.peek() == LPAREN {
		c := closer{kind: cException, pos: p.pos, target: target}
		p.next()
		return nil, c
	}
	if p.tok == IDENT && p.lit == "try" && p.peek() == LPAREN {
		p.error(p.pos, "try() cannot be assigned")
	}
	var s Stmt
	p.guard(func() {
		if isLiteralName(target.Name) {
			p.failf(target.NamePos, "cannot assign to %s", target.Name)
		}
		x := p.parseExpr()
		if call, ok := x.(*CallExpr); ok {
			if id, ok := call.Fun.(*Ident); ok && isBlockKeyword(id.Name) {
				p.failf(id.NamePos, "%s() cannot be used as a value", id.Name)
			}
		}
		p.stmtEnd()
		as := p.assigns.new()
		as.Target, as.Value = target, x
		s = as
	})
	return s, closer{}
}

// comparators are the comparison operators of if().
func isComparator(op string) bool {
	switch op {
	case "=", "==", "!=", "<", ">", "<=", ">=", "in":
		return true
	}
	return false
}

func (p *parser) parseIf() (Stmt, closer) {
	s := &IfStmt{If: p.pos}
	p.enterBlock()
	defer p.leaveBlock()
	p.guard(func() {
		p.next() // if
		if p.tok != LPAREN {
			p.failf(p.pos, "expected '(' after if, found %s", p.found())
		}
		_, args, rparen := p.parseArgs()
		p.ifHeader(s, args, rparen)
		p.stmtEnd()
	})
	c := p.parseBlock(&s.Then)
	for c.kind == cElse {
		if s.Else.IsValid() {
			p.addError(c.pos, fmt.Sprintf("second else() for if at %s (first else() at %s)", s.If, s.Else))
			p.lastErrLine = c.pos.Line
		} else {
			s.Else = c.pos
		}
		p.closerArgs(c)
		c = p.parseBlock(&s.ElseBody)
	}
	if c.kind == cEnd {
		s.End = c.pos
		p.closerArgs(c)
		return s, closer{}
	}
	p.unclosed(s.If, "if", "end()", c)
	return s, c
}

func (p *parser) ifHeader(s *IfStmt, args []Expr, rparen Pos) {
	if len(args) != 3 {
		p.failf(s.If, "if() takes 3 arguments (left, right, comparator), found %d", len(args))
	}
	s.Left, s.Right = args[0], args[1]
	switch op := args[2].(type) {
	case nil:
		p.fail(rparen, "missing comparator or condition in if()")
	case *OpLit:
		s.Op, s.OpPos = op.Op, op.OpPos
	case *BasicLit:
		if op.Kind != StringLit {
			s.Cond = op
			break
		}
		if v := strings.TrimSpace(op.Value); isComparator(v) {
			s.Op, s.OpPos = v, op.ValuePos
			break
		}
		s.Cond = p.subExpr(op.Value, op.ValuePos)
	case *TemplateLit:
		if v := strings.TrimSpace(op.Raw); isComparator(v) {
			s.Op, s.OpPos = v, op.Backtick
			break
		}
		s.Cond = p.subExpr(op.Raw, op.Backtick)
	default:
		s.Cond = op
	}
}

// subExpr parses the text of a quoted condition whose opening quote is at
// quote. Positions are mapped into the source: the same line, columns
// shifted by the column of the quote.
func (p *parser) subExpr(text string, quote Pos) Expr {
	if strings.TrimSpace(text) == "" {
		p.fail(quote, "empty condition in if()")
	}
	sub := &parser{name: p.name, maxDepth: p.maxDepth, depth: p.depth, errs: p.errs, lastErrLine: p.lastErrLine}
	sub.sc.init(text, Pos{Line: quote.Line, Col: quote.Col + 1}, sub.scanError, 0)
	defer func() {
		p.errs, p.lastErrLine = sub.errs, sub.lastErrLine
	}()
	sub.next()
	x := sub.parseOnlyExpr()
	if x == nil {
		panic(lineBailout{})
	}
	return x
}

// parseOnlyExpr parses an expression that must make up the whole input.
func (p *parser) parseOnlyExpr() (x Expr) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(lineBailout); !ok {
				panic(r)
			}
			x = nil
		}
	}()
	x = p.parseExpr()
	for p.tok == NEWLINE {
		p.next()
	}
	if p.tok != EOF {
		p.failf(p.pos, "unexpected %s after expression", p.found())
	}
	return x
}

func (p *parser) parseLoop() (Stmt, closer) {
	s := &LoopStmt{Loop: p.pos}
	p.enterBlock()
	defer p.leaveBlock()
	p.guard(func() {
		p.next() // startLoop
		_, args, _ := p.parseArgs()
		if len(args) != 3 {
			p.failf(s.Loop, "startLoop() takes 3 arguments (variable, from, to), found %d", len(args))
		}
		if args[0] == nil {
			p.fail(s.Loop, "startLoop() needs a loop variable")
		}
		s.Var = p.nameArg(args[0], "startLoop()")
		s.From, s.To = args[1], args[2]
		if s.From == nil || s.To == nil {
			p.fail(s.Loop, "startLoop() needs both bounds")
		}
		p.stmtEnd()
	})
	c := p.parseBlock(&s.Body)
	if c.kind == cEndLoop || c.kind == cEnd {
		s.End = c.pos
		p.closerArgs(c)
		return s, closer{}
	}
	p.unclosed(s.Loop, "startLoop", "endLoop()", c)
	return s, c
}

func (p *parser) parseTry(target *Ident) (Stmt, closer) {
	s := &TryStmt{Try: p.pos}
	p.enterBlock()
	defer p.leaveBlock()
	p.guard(func() {
		p.next() // try
		_, args, _ := p.parseArgs()
		if len(args) > 0 {
			p.fail(s.Try, "try() takes no arguments")
		}
		p.stmtEnd()
	})
	c := p.parseBlock(&s.Body)
	switch c.kind {
	case cException:
		s.Exception = c.pos
		s.ErrTarget = c.target
		s.ErrVar = p.closerArgs(c)
		c = p.parseBlock(&s.Handler)
		if c.kind == cEnd {
			s.End = c.pos
			p.closerArgs(c)
			return s, closer{}
		}
		// No end(): the handler extends to the end of the enclosing block.
		return s, c
	case cEnd:
		p.addError(s.Try, fmt.Sprintf("try at %s has no exception() before end() at %s", s.Try, c.pos))
		s.End = c.pos
		p.closerArgs(c)
		return s, closer{}
	}
	p.unclosed(s.Try, "try", "exception()", c)
	return s, c
}

func (p *parser) parseAsync() (Stmt, closer) {
	s := &AsyncStmt{Go: p.pos}
	p.enterBlock()
	defer p.leaveBlock()
	p.guard(func() {
		p.next() // go_async
		_, args, _ := p.parseArgs()
		if len(args) != 1 || args[0] == nil {
			p.failf(s.Go, "go_async() takes one argument (the task id)")
		}
		s.ID = args[0]
		p.stmtEnd()
	})
	c := p.parseBlock(&s.Body)
	if c.kind == cEnd {
		s.End = c.pos
		p.closerArgs(c)
		return s, closer{}
	}
	p.unclosed(s.Go, "go_async", "end()", c)
	return s, c
}

func (p *parser) parseFunc() (Stmt, closer) {
	s := &FuncDecl{Func: p.pos}
	nested := p.blockDepth > 0
	if nested {
		p.addError(s.Func, "function declarations are only allowed at top level")
		p.lastErrLine = s.Func.Line
	}
	p.enterBlock()
	defer p.leaveBlock()
	headerOK := p.guard(func() {
		p.next() // function
		s.Name = &Ident{NamePos: p.pos, Name: p.lit}
		if isLiteralName(p.lit) {
			p.error(p.pos, p.lit+" cannot be a function name")
		}
		p.next()
		if p.tok != LPAREN {
			p.failf(p.pos, "expected '(' after function name, found %s", p.found())
		}
		p.next()
		for p.tok != RPAREN {
			if p.tok != IDENT {
				p.failf(p.pos, "expected parameter name, found %s", p.found())
			}
			if isLiteralName(p.lit) {
				p.error(p.pos, p.lit+" cannot be a parameter name")
			}
			for _, q := range s.Params {
				if q.Name == p.lit {
					p.error(p.pos, "duplicate parameter "+p.lit)
				}
			}
			s.Params = append(s.Params, &Ident{NamePos: p.pos, Name: p.lit})
			p.next()
			if p.tok == COMMA {
				p.next()
				continue
			}
			if p.tok != RPAREN {
				p.failf(p.pos, "expected ',' or ')' in parameter list, found %s", p.found())
			}
		}
		p.next() // )
		if p.tok != LBRACE && p.tok != NEWLINE && p.tok != EOF {
			p.failf(p.pos, "expected '{' after function header, found %s", p.found())
		}
	})
	if s.Name == nil {
		s.Name = &Ident{}
	}
	// The brace may be on the same line or on a following one.
	for p.tok == NEWLINE {
		p.next()
	}
	if p.tok == LBRACE {
		p.next()
	} else if headerOK {
		p.addError(p.pos, fmt.Sprintf("expected '{' to open the body of function %s, found %s", s.Name.Name, p.found()))
		p.lastErrLine = p.pos.Line
	}
	for {
		c := p.parseBlock(&s.Body)
		switch c.kind {
		case cRBrace:
			s.Rbrace = c.pos
			p.next()
			p.guard(p.stmtEnd)
		case cEOF:
			p.unclosed(s.Func, "function "+s.Name.Name, "'}'", c)
			if nested {
				return nil, c
			}
			return s, c
		default:
			p.strayCloser(c)
			continue
		}
		break
	}
	if nested {
		return nil, closer{}
	}
	return s, closer{}
}

func (p *parser) parseReturn() Stmt {
	s := &ReturnStmt{Return: p.pos}
	p.guard(func() {
		p.next() // return
		switch p.tok {
		case NEWLINE, SEMICOLON, EOF, RBRACE:
		default:
			if p.tok == LPAREN && p.peek() == RPAREN {
				p.next()
				p.next()
				break
			}
			x := p.parseExpr()
			if paren, ok := x.(*ParenExpr); ok {
				x = paren.X
			}
			s.Value = x
		}
		p.stmtEnd()
	})
	return s
}

func (p *parser) parseImport() Stmt {
	s := &ImportStmt{Import: p.pos, Include: p.lit == "include"}
	p.guard(func() {
		name := p.lit
		p.next()
		_, args, _ := p.parseArgs()
		if len(args) != 1 || args[0] == nil {
			p.failf(s.Import, "%s() takes one argument", name)
		}
		lit, ok := args[0].(*BasicLit)
		if !ok || lit.Kind != StringLit {
			p.failf(args[0].Pos(), "%s() argument must be a string literal", name)
		}
		if lit.Value == "" {
			p.failf(lit.ValuePos, "%s() argument is empty", name)
		}
		s.Path, s.PathPos = lit.Value, lit.ValuePos
		p.stmtEnd()
	})
	return s
}

// ---------------------------------------------------------------------------
// Expressions

// parseArgs parses "(" [arg] {"," [arg]} ")" where an empty slot is a nil
// entry. The current token must be "(". Newlines end the list.
func (p *parser) parseArgs() (lparen Pos, args []Expr, rparen Pos) {
	lparen = p.pos
	old := p.skipNL
	p.skipNL = false
	p.next()
	if p.tok != RPAREN {
		mark := len(p.exprStack)
		for {
			var a Expr
			if p.tok != COMMA && p.tok != RPAREN {
				a = p.parseArg()
			}
			p.exprStack = append(p.exprStack, a)
			if p.tok != COMMA {
				break
			}
			p.next()
		}
		args = carve(&p.exprChunk, p.exprStack[mark:])
		clear(p.exprStack[mark:])
		p.exprStack = p.exprStack[:mark]
	}
	p.skipNL = old
	rparen = p.expectClose(RPAREN, lparen, "argument list")
	return lparen, args, rparen
}

// parseArg parses a call argument: an expression or a bare comparator.
func (p *parser) parseArg() Expr {
	var op string
	switch p.tok {
	case ASSIGN, EQL, NEQ, LSS, GTR, LEQ, GEQ, IN:
		op = p.tok.String()
	}
	if op != "" {
		if next := p.peek(); next == COMMA || next == RPAREN {
			x := &OpLit{OpPos: p.pos, Op: op}
			p.next()
			return x
		}
	}
	return p.parseExpr()
}

func (p *parser) parseExpr() Expr {
	p.enter()
	x := p.parseOr()
	if p.tok == IF {
		ifPos := p.pos
		p.next()
		cond := p.parseOr()
		if p.tok != ELSE {
			p.failf(p.pos, "expected 'else' in conditional expression, found %s", p.found())
		}
		p.next()
		x = &CondExpr{Then: x, If: ifPos, Cond: cond, Else: p.parseExpr()}
	}
	p.leave()
	return x
}

func (p *parser) parseOr() Expr {
	x := p.parseAnd()
	for p.tok == OR {
		pos := p.pos
		p.next()
		x = p.newBinary(x, pos, OR, p.parseAnd())
	}
	return x
}

func (p *parser) parseAnd() Expr {
	x := p.parseNot()
	for p.tok == AND {
		pos := p.pos
		p.next()
		x = p.newBinary(x, pos, AND, p.parseNot())
	}
	return x
}

func (p *parser) parseNot() Expr {
	if p.tok != NOT {
		return p.parseComparison()
	}
	pos := p.pos
	p.next()
	p.enter()
	x := &UnaryExpr{OpPos: pos, Op: NOT, X: p.parseNot()}
	p.leave()
	return x
}

// parseComparison parses a comparison chain; `a < b < c` becomes
// `(a < b) and (b < c)` with b shared by both comparisons.
func (p *parser) parseComparison() Expr {
	x := p.parseBinary(precPipe)
	var result Expr
	left := x
	for {
		op, pos := p.tok, p.pos
		switch op {
		case EQL, NEQ, LSS, GTR, LEQ, GEQ, IN:
			p.next()
		case IS:
			p.next()
			if p.tok == NOT {
				p.next()
				op = IS_NOT
			}
		case NOT:
			if p.peek() != IN {
				return orElse(result, x)
			}
			p.next()
			p.next()
			op = NOT_IN
		default:
			return orElse(result, x)
		}
		y := p.parseBinary(precPipe)
		cmp := p.newBinary(left, pos, op, y)
		if result == nil {
			result = cmp
		} else {
			result = p.newBinary(result, pos, AND, cmp)
		}
		left = y
	}
}

func orElse(a, b Expr) Expr {
	if a != nil {
		return a
	}
	return b
}

// Operator precedence, lowest first (LANGUAGE.md §7.3).
const (
	precCond = iota + 1
	precOr
	precAnd
	precNot
	precCmp
	precPipe
	precCaret
	precAmp
	precShift
	precAdd
	precMul
	precUnary
	precPow
	precPrimary
)

func binaryPrec(tok Token) int {
	switch tok {
	case PIPE:
		return precPipe
	case CARET:
		return precCaret
	case AMP:
		return precAmp
	case SHL, SHR:
		return precShift
	case ADD, SUB:
		return precAdd
	case MUL, QUO, REM:
		return precMul
	}
	return 0
}

// parseBinary parses left-associative binary operators of precedence
// minPrec and higher, by precedence climbing.
func (p *parser) parseBinary(minPrec int) Expr {
	x := p.parseUnary()
	for {
		prec := binaryPrec(p.tok)
		if prec == 0 || prec < minPrec {
			return x
		}
		op, pos := p.tok, p.pos
		p.next()
		x = p.newBinary(x, pos, op, p.parseBinary(prec+1))
	}
}

func (p *parser) parseUnary() Expr {
	switch p.tok {
	case SUB, ADD, TILDE:
		op, pos := p.tok, p.pos
		p.next()
		p.enter()
		x := &UnaryExpr{OpPos: pos, Op: op, X: p.parseUnary()}
		p.leave()
		return x
	}
	return p.parsePower()
}

func (p *parser) parsePower() Expr {
	x := p.parsePrimary()
	if p.tok != POW {
		return x
	}
	pos := p.pos
	p.next()
	p.enter()
	y := p.parseUnary()
	p.leave()
	return &BinaryExpr{X: x, OpPos: pos, Op: POW, Y: y}
}

func (p *parser) parsePrimary() Expr {
	x := p.parseOperand()
	for {
		switch p.tok {
		case DOT:
			p.next()
			if p.tok != IDENT {
				p.failf(p.pos, "expected name after '.', found %s", p.found())
			}
			x = &AttrExpr{X: x, Name: &Ident{NamePos: p.pos, Name: p.lit}}
			p.next()
		case LBRACK:
			x = p.parseIndex(x)
		case LPAREN:
			switch x.(type) {
			case *Ident, *AttrExpr:
			default:
				p.failf(p.pos, "%s is not callable (only names and methods can be called)", exprString(x))
			}
			lparen, args, rparen := p.parseArgs()
			call := p.calls.new()
			*call = CallExpr{Fun: x, Lparen: lparen, Args: args, Rparen: rparen}
			x = call
		default:
			return x
		}
	}
}

func (p *parser) parseIndex(x Expr) Expr {
	lbrack := p.pos
	old := p.skipNL
	p.skipNL = false
	p.next()
	var lo, hi, step Expr
	if p.tok != COLON {
		if p.tok == RBRACK {
			p.failf(p.pos, "expected index or slice, found %s", p.found())
		}
		lo = p.parseExpr()
	}
	if p.tok != COLON {
		p.skipNL = old
		rbrack := p.expectClose(RBRACK, lbrack, "")
		return &IndexExpr{X: x, Lbrack: lbrack, Index: lo, Rbrack: rbrack}
	}
	p.next() // :
	if p.tok != COLON && p.tok != RBRACK {
		hi = p.parseExpr()
	}
	if p.tok == COLON {
		p.next()
		if p.tok != RBRACK {
			step = p.parseExpr()
		}
	}
	p.skipNL = old
	rbrack := p.expectClose(RBRACK, lbrack, "")
	return &SliceExpr{X: x, Lbrack: lbrack, Lo: lo, Hi: hi, Step: step, Rbrack: rbrack}
}

// isLiteralName reports whether name is a literal (None, true...), not a
// variable.
func isLiteralName(name string) bool {
	switch name {
	case "None", "True", "False", "null", "true", "false":
		return true
	}
	return false
}

// literalIdent returns the literal for a name that is one, or nil.
func literalIdent(x *Ident) *BasicLit {
	var kind LitKind
	var val string
	switch x.Name {
	case "None", "null":
		kind, val = NoneLit, "None"
	case "True", "true":
		kind, val = TrueLit, "True"
	case "False", "false":
		kind, val = FalseLit, "False"
	default:
		return nil
	}
	return &BasicLit{ValuePos: x.NamePos, Kind: kind, Raw: x.Name, Value: val}
}

func (p *parser) parseOperand() Expr {
	pos, lit := p.pos, p.lit
	switch p.tok {
	case IDENT:
		p.next()
		id := p.newIdent(pos, lit)
		if b := literalIdent(id); b != nil {
			if p.tok == LPAREN {
				p.failf(p.pos, "%s is not callable", lit)
			}
			return b
		}
		return id
	case DOLLAR:
		p.next()
		return &GlobalIdent{Dollar: pos, Name: lit[1:]}
	case INT:
		p.next()
		b := p.lits.new()
		*b = BasicLit{ValuePos: pos, Kind: IntLit, Raw: lit, Value: lit}
		return b
	case FLOAT:
		p.next()
		b := p.lits.new()
		*b = BasicLit{ValuePos: pos, Kind: FloatLit, Raw: lit, Value: lit}
		return b
	case STRING:
		val := p.val
		p.next()
		b := p.lits.new()
		*b = BasicLit{ValuePos: pos, Kind: StringLit, Raw: lit, Value: val}
		return b
	case TEMPLATE:
		parts := p.parts
		p.next()
		raw := lit[1:]
		if strings.HasSuffix(raw, "`") {
			raw = raw[:len(raw)-1]
		}
		return &TemplateLit{Backtick: pos, Raw: raw, Parts: parts}
	case LPAREN:
		return p.parseParen()
	case LBRACK:
		return p.parseList()
	case LBRACE:
		return p.parseDict()
	}
	if p.tok == ASSIGN && binaryPrec(p.prev) != 0 {
		p.failf(p.pos, "augmented assignment (x %s= y) is not supported: write x = x %s y", p.prev, p.prev)
	}
	p.failf(p.pos, "expected expression, found %s", p.found())
	return nil
}

func (p *parser) parseParen() Expr {
	lparen := p.pos
	old := p.skipNL
	p.skipNL = false
	p.next()
	if p.tok == RPAREN {
		p.skipNL = old
		rparen := p.pos
		p.next()
		return &TupleLit{Lparen: lparen, Rparen: rparen}
	}
	x := p.parseExpr()
	if p.tok != COMMA {
		p.skipNL = old
		rparen := p.expectClose(RPAREN, lparen, "")
		return &ParenExpr{Lparen: lparen, X: x, Rparen: rparen}
	}
	elems := []Expr{x}
	for p.tok == COMMA {
		p.next()
		if p.tok == RPAREN {
			break
		}
		elems = append(elems, p.parseExpr())
	}
	p.skipNL = old
	rparen := p.expectClose(RPAREN, lparen, "tuple")
	return &TupleLit{Lparen: lparen, Elems: elems, Rparen: rparen}
}

func (p *parser) parseList() Expr {
	lbrack := p.pos
	old := p.skipNL
	p.skipNL = true
	p.next()
	var elems []Expr
	for p.tok != RBRACK && p.tok != EOF {
		elems = append(elems, p.parseExpr())
		if p.tok != COMMA {
			break
		}
		p.next()
	}
	p.skipNL = old
	rbrack := p.expectClose(RBRACK, lbrack, "list")
	return &ListLit{Lbrack: lbrack, Elems: elems, Rbrack: rbrack}
}

func (p *parser) parseDict() Expr {
	lbrace := p.pos
	old := p.skipNL
	p.skipNL = true
	p.next()
	d := &DictLit{Lbrace: lbrace}
	for p.tok != RBRACE && p.tok != EOF {
		k := p.parseExpr()
		if p.tok != COLON {
			p.failf(p.pos, "expected ':' after key in dict, found %s", p.found())
		}
		p.next()
		d.Keys = append(d.Keys, k)
		d.Values = append(d.Values, p.parseExpr())
		if p.tok != COMMA {
			break
		}
		p.next()
	}
	p.skipNL = old
	d.Rbrace = p.expectClose(RBRACE, lbrace, "dict")
	return d
}

// exprString returns a short source form of x for error messages.
func exprString(x Expr) string {
	var pr printer
	pr.expr(x, precCond)
	return shorten(string(pr.buf))
}
