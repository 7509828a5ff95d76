package syntax

// Inspect traverses the tree rooted at node in depth-first order: it calls
// f(node); if that returns true, Inspect visits each non-nil child of node
// in source order, then calls f(nil). A *File is a Node too.
//
// In a comparison chain `a < b < c`, parsed as `(a < b) and (b < c)`, the
// shared operand b is visited twice.
func Inspect(node Node, f func(Node) bool) {
	if node == nil || !f(node) {
		return
	}
	v := inspector(f)
	switch n := node.(type) {
	case *File:
		v.stmts(n.Stmts)
	case *ExprStmt:
		if n.X != nil {
			Inspect(n.X, f)
		}
	case *AssignStmt:
		v.ident(n.Target)
		v.expr(n.Value)
	case *IfStmt:
		v.expr(n.Left)
		v.expr(n.Right)
		v.expr(n.Cond)
		v.stmts(n.Then)
		v.stmts(n.ElseBody)
	case *LoopStmt:
		v.ident(n.Var)
		v.expr(n.From)
		v.expr(n.To)
		v.stmts(n.Body)
	case *TryStmt:
		v.stmts(n.Body)
		v.ident(n.ErrTarget)
		v.ident(n.ErrVar)
		v.stmts(n.Handler)
	case *FuncDecl:
		v.ident(n.Name)
		for _, x := range n.Params {
			v.ident(x)
		}
		v.stmts(n.Body)
	case *ReturnStmt:
		v.expr(n.Value)
	case *AsyncStmt:
		v.expr(n.ID)
		v.stmts(n.Body)
	case *ImportStmt:
	case *Ident, *GlobalIdent, *BasicLit, *TemplateLit, *OpLit:
	case *ListLit:
		v.exprs(n.Elems)
	case *TupleLit:
		v.exprs(n.Elems)
	case *DictLit:
		for i, k := range n.Keys {
			v.expr(k)
			if i < len(n.Values) {
				v.expr(n.Values[i])
			}
		}
	case *ParenExpr:
		v.expr(n.X)
	case *UnaryExpr:
		v.expr(n.X)
	case *BinaryExpr:
		v.expr(n.X)
		v.expr(n.Y)
	case *CondExpr:
		v.expr(n.Then)
		v.expr(n.Cond)
		v.expr(n.Else)
	case *IndexExpr:
		v.expr(n.X)
		v.expr(n.Index)
	case *SliceExpr:
		v.expr(n.X)
		v.expr(n.Lo)
		v.expr(n.Hi)
		v.expr(n.Step)
	case *AttrExpr:
		v.expr(n.X)
		v.ident(n.Name)
	case *CallExpr:
		v.expr(n.Fun)
		v.exprs(n.Args)
	}
	f(nil)
}

type inspector func(Node) bool

func (v inspector) expr(x Expr) {
	if x != nil {
		Inspect(x, v)
	}
}

func (v inspector) exprs(list []Expr) {
	for _, x := range list {
		v.expr(x)
	}
}

func (v inspector) ident(x *Ident) {
	if x != nil {
		Inspect(x, v)
	}
}

func (v inspector) stmts(list []Stmt) {
	for _, s := range list {
		if s != nil {
			Inspect(s, v)
		}
	}
}
