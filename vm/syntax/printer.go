package syntax

import (
	"io"
	"strconv"
	"unicode/utf8"
)

// Fprint writes the canonical source form of f to w. See Format.
func Fprint(w io.Writer, f *File) error {
	_, err := w.Write(Format(f))
	return err
}

// Format returns the canonical source form of f: one statement per line,
// blocks indented by four spaces, single spaces around binary operators
// and after commas, if() comparators and conditions written as quoted
// strings. Comments are not kept (the tree has none). Parsing the output
// gives the same tree as f, positions aside, and formatting is idempotent.
func Format(f *File) []byte {
	var p printer
	p.stmts(f.Stmts)
	return p.buf
}

type printer struct {
	buf    []byte
	indent int
}

func (p *printer) str(s string) { p.buf = append(p.buf, s...) }

func (p *printer) stmts(list []Stmt) {
	for _, s := range list {
		p.stmt(s)
	}
}

func (p *printer) block(list []Stmt) {
	p.indent++
	p.stmts(list)
	p.indent--
}

func (p *printer) line(s string) {
	for range p.indent {
		p.str("    ")
	}
	p.str(s)
}

func (p *printer) stmt(s Stmt) {
	switch s := s.(type) {
	case *ExprStmt:
		p.line("")
		if s.X != nil {
			p.expr(s.X, precCond)
		}
	case *AssignStmt:
		p.line(identName(s.Target))
		p.str(" = ")
		p.optExpr(s.Value)
	case *IfStmt:
		p.line("if(")
		p.optExpr(s.Left)
		p.str(", ")
		p.optExpr(s.Right)
		p.str(", ")
		if s.Op != "" {
			p.str(strconv.Quote(s.Op))
		} else {
			var q printer
			q.optExpr(s.Cond)
			p.str(Quote(string(q.buf)))
		}
		p.str(")\n")
		p.block(s.Then)
		if s.Else.IsValid() || len(s.ElseBody) > 0 {
			p.line("else()\n")
			p.block(s.ElseBody)
		}
		p.line("end()")
	case *LoopStmt:
		p.line("startLoop(")
		p.str(identName(s.Var))
		p.str(", ")
		p.optExpr(s.From)
		p.str(", ")
		p.optExpr(s.To)
		p.str(")\n")
		p.block(s.Body)
		p.line("endLoop()")
	case *TryStmt:
		p.line("try()\n")
		p.block(s.Body)
		if s.Exception.IsValid() || s.ErrVar != nil || s.ErrTarget != nil || len(s.Handler) > 0 {
			if s.ErrTarget != nil {
				p.line(s.ErrTarget.Name + " = exception(")
			} else {
				p.line("exception(")
			}
			p.str(identName(s.ErrVar))
			p.str(")\n")
			p.block(s.Handler)
		}
		p.line("end()")
	case *FuncDecl:
		p.line("function ")
		p.str(identName(s.Name))
		p.str("(")
		for i, x := range s.Params {
			if i > 0 {
				p.str(", ")
			}
			p.str(identName(x))
		}
		p.str(") {\n")
		p.block(s.Body)
		p.line("}")
	case *ReturnStmt:
		p.line("return(")
		p.optExpr(s.Value)
		p.str(")")
	case *AsyncStmt:
		p.line("go_async(")
		p.optExpr(s.ID)
		p.str(")\n")
		p.block(s.Body)
		p.line("end()")
	case *ImportStmt:
		if s.Include {
			p.line("include(")
		} else {
			p.line("import(")
		}
		p.str(Quote(s.Path))
		p.str(")")
	}
	p.str("\n")
}

func identName(x *Ident) string {
	if x == nil {
		return ""
	}
	return x.Name
}

func (p *printer) optExpr(x Expr) {
	if x != nil {
		p.expr(x, precCond)
	}
}

func (p *printer) exprList(list []Expr) {
	for i, x := range list {
		if i > 0 {
			p.str(", ")
		}
		p.optExpr(x)
	}
}

// exprPrec returns the precedence of x as printed.
func exprPrec(x Expr) int {
	switch x := x.(type) {
	case *CondExpr:
		return precCond
	case *UnaryExpr:
		if x.Op == NOT {
			return precNot
		}
		return precUnary
	case *BinaryExpr:
		if x.Op == AND && len(cmpChain(x)) > 1 {
			return precCmp
		}
		return opPrec(x.Op)
	}
	return precPrimary
}

func opPrec(op Token) int {
	switch op {
	case OR:
		return precOr
	case AND:
		return precAnd
	case POW:
		return precPow
	}
	if op.IsComparison() {
		return precCmp
	}
	if prec := binaryPrec(op); prec != 0 {
		return prec
	}
	return precPrimary
}

// cmpChain returns the comparisons of a chain `a < b < c` that the parser
// turned into `(a < b) and (b < c)`, recognised by the operand that the
// comparisons share; otherwise it returns at most one comparison.
func cmpChain(x Expr) []*BinaryExpr {
	b, ok := x.(*BinaryExpr)
	if !ok {
		return nil
	}
	if b.Op.IsComparison() {
		return []*BinaryExpr{b}
	}
	if b.Op != AND {
		return nil
	}
	right, ok := b.Y.(*BinaryExpr)
	if !ok || !right.Op.IsComparison() {
		return nil
	}
	left := cmpChain(b.X)
	if len(left) == 0 || left[len(left)-1].Y != right.X || right.X == nil {
		return nil
	}
	return append(left, right)
}

// expr prints x, in parentheses if its precedence is below prec.
func (p *printer) expr(x Expr, prec int) {
	if exprPrec(x) < prec {
		p.str("(")
		p.expr(x, precCond)
		p.str(")")
		return
	}
	switch x := x.(type) {
	case *Ident:
		p.str(x.Name)
	case *GlobalIdent:
		p.str("$" + x.Name)
	case *BasicLit:
		switch {
		case x.Raw != "":
			p.str(x.Raw)
		case x.Kind == StringLit:
			p.str(Quote(x.Value))
		case x.Kind == NoneLit:
			p.str("None")
		case x.Kind == TrueLit:
			p.str("True")
		case x.Kind == FalseLit:
			p.str("False")
		default:
			p.str(x.Value)
		}
	case *TemplateLit:
		p.str("`" + x.Raw + "`")
	case *OpLit:
		p.str(x.Op)
	case *ListLit:
		p.str("[")
		p.exprList(x.Elems)
		p.str("]")
	case *TupleLit:
		p.str("(")
		p.exprList(x.Elems)
		if len(x.Elems) == 1 {
			p.str(",")
		}
		p.str(")")
	case *DictLit:
		p.str("{")
		for i, k := range x.Keys {
			if i > 0 {
				p.str(", ")
			}
			p.optExpr(k)
			p.str(": ")
			if i < len(x.Values) {
				p.optExpr(x.Values[i])
			}
		}
		p.str("}")
	case *ParenExpr:
		p.str("(")
		p.optExpr(x.X)
		p.str(")")
	case *UnaryExpr:
		if x.Op == NOT {
			p.str("not ")
			p.expr(x.X, precNot)
		} else {
			p.str(x.Op.String())
			p.expr(x.X, precUnary)
		}
	case *BinaryExpr:
		p.binary(x)
	case *CondExpr:
		p.expr(x.Then, precOr)
		p.str(" if ")
		p.expr(x.Cond, precOr)
		p.str(" else ")
		p.expr(x.Else, precCond)
	case *IndexExpr:
		p.expr(x.X, precPrimary)
		p.str("[")
		p.optExpr(x.Index)
		p.str("]")
	case *SliceExpr:
		p.expr(x.X, precPrimary)
		p.str("[")
		p.optExpr(x.Lo)
		p.str(":")
		p.optExpr(x.Hi)
		if x.Step != nil {
			p.str(":")
			p.optExpr(x.Step)
		}
		p.str("]")
	case *AttrExpr:
		p.expr(x.X, precPrimary)
		if lit, ok := x.X.(*BasicLit); ok && lit.Kind == IntLit {
			p.str(" ") // 1 .x, not the float 1.
		}
		p.str(".")
		p.str(identName(x.Name))
	case *CallExpr:
		p.expr(x.Fun, precPrimary)
		p.str("(")
		p.exprList(x.Args)
		p.str(")")
	}
}

func (p *printer) binary(x *BinaryExpr) {
	if x.Op == AND {
		if chain := cmpChain(x); len(chain) > 1 {
			p.expr(chain[0].X, precCmp+1)
			for _, c := range chain {
				p.str(" " + c.Op.String() + " ")
				p.expr(c.Y, precCmp+1)
			}
			return
		}
	}
	prec := opPrec(x.Op)
	left, right := prec, prec+1
	switch {
	case x.Op == POW:
		left, right = precPrimary, precUnary
	case prec == precCmp:
		left = precCmp + 1
	}
	p.expr(x.X, left)
	p.str(" " + x.Op.String() + " ")
	p.expr(x.Y, right)
}

// Quote returns s as a double-quoted AVAP string literal.
func Quote(s string) string {
	buf := make([]byte, 0, len(s)+2)
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			buf = append(buf, '\\', byte(r))
		case r == '\n':
			buf = append(buf, `\n`...)
		case r == '\t':
			buf = append(buf, `\t`...)
		case r == '\r':
			buf = append(buf, `\r`...)
		case r == utf8.RuneError && size == 1:
			buf = append(buf, `\ufffd`...)
		case r < 0x20 || r == 0x7f:
			buf = append(buf, `\x`...)
			buf = append(buf, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		default:
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return string(append(buf, '"'))
}
