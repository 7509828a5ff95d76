package syntax

// This file defines the abstract syntax tree of AVAP. It is the contract
// between the parser (this package) and the compiler (vm/internal/compile).
//
// Every node records the position of its first character. Statement lists
// keep source order. The parser never returns a nil *File; on syntax errors
// it returns a partial tree together with an ErrorList.

// Pos is a position in a source file: 1-based line and column (column
// counted in bytes). The zero Pos is "unknown".
type Pos struct {
	Line int32
	Col  int32
}

// IsValid reports whether p is a known position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Node is any node of the tree.
type Node interface {
	Pos() Pos // position of the first character of the node
}

// Stmt is a statement node.
type Stmt interface {
	Node
	stmtNode()
}

// Expr is an expression node.
type Expr interface {
	Node
	exprNode()
}

// File is one parsed source file.
type File struct {
	Name  string // file name as given to Parse
	Stmts []Stmt // top-level statements, FuncDecls included, in source order
}

// ---------------------------------------------------------------------------
// Statements

// ExprStmt is a call used as a statement: a command call `addVar(x, 1)`,
// a user function call `f(1)`, or a method call `db.query("...")`.
// X is always a *CallExpr.
type ExprStmt struct {
	X *CallExpr
}

// AssignStmt is `target = value`. When Value is a *CallExpr the call is a
// command or function call whose output goes to Target.
type AssignStmt struct {
	Target *Ident
	Value  Expr
}

// IfStmt is `if(left, right, op)` ... [`else()` ...] `end()`.
//
// Comparison mode: Op is one of "=", "==", "!=", "<", ">", "<=", ">=", "in"
// (written bare or quoted in the source); Left and Right are the operands.
// Expression mode: Op is "" and Cond holds the boolean expression parsed
// from the third argument (a quoted string or backtick text that is not a
// comparator, or any other expression); Left and Right are then whatever
// was written in the first two slots (usually None) and are ignored.
type IfStmt struct {
	If       Pos
	Left     Expr // may be nil for an empty slot
	Right    Expr // may be nil for an empty slot
	Op       string
	OpPos    Pos
	Cond     Expr // expression mode only; else nil
	Then     []Stmt
	Else     Pos // position of else(); invalid when there is no else
	ElseBody []Stmt
	End      Pos // position of end()
}

// LoopStmt is `startLoop(var, from, to)` ... `endLoop()`. Both bounds are
// inclusive.
type LoopStmt struct {
	Loop Pos
	Var  *Ident
	From Expr
	To   Expr
	Body []Stmt
	End  Pos // position of endLoop()
}

// TryStmt is `try()` ... `exception(var)` ... `end()`.
// `target = exception(var)` sets ErrTarget too. When the source omits
// end() after the handler (AVAP Lite style) the handler extends to the end
// of the enclosing block and End is invalid.
type TryStmt struct {
	Try       Pos
	Body      []Stmt
	Exception Pos    // position of exception(...)
	ErrVar    *Ident // may be nil: exception()
	ErrTarget *Ident // may be nil: target of `x = exception(e)`
	Handler   []Stmt
	End       Pos
}

// FuncDecl is `function name(p1, p2) { ... }`.
type FuncDecl struct {
	Func   Pos
	Name   *Ident
	Params []*Ident
	Body   []Stmt
	Rbrace Pos
}

// ReturnStmt is `return(v)`, `return v` or `return()`.
type ReturnStmt struct {
	Return Pos
	Value  Expr // nil means None
}

// AsyncStmt is `go_async(id)` ... `end()`.
type AsyncStmt struct {
	Go   Pos
	ID   Expr
	Body []Stmt
	End  Pos
}

// ImportStmt is `import("name@range")` or `include("path.avap")`.
type ImportStmt struct {
	Import  Pos
	Include bool   // true for include(...)
	Path    string // the unquoted argument
	PathPos Pos
}

func (s *ExprStmt) Pos() Pos   { return s.X.Pos() }
func (s *AssignStmt) Pos() Pos { return s.Target.Pos() }
func (s *IfStmt) Pos() Pos     { return s.If }
func (s *LoopStmt) Pos() Pos   { return s.Loop }
func (s *TryStmt) Pos() Pos    { return s.Try }
func (s *FuncDecl) Pos() Pos   { return s.Func }
func (s *ReturnStmt) Pos() Pos { return s.Return }
func (s *AsyncStmt) Pos() Pos  { return s.Go }
func (s *ImportStmt) Pos() Pos { return s.Import }

func (*ExprStmt) stmtNode()   {}
func (*AssignStmt) stmtNode() {}
func (*IfStmt) stmtNode()     {}
func (*LoopStmt) stmtNode()   {}
func (*TryStmt) stmtNode()    {}
func (*FuncDecl) stmtNode()   {}
func (*ReturnStmt) stmtNode() {}
func (*AsyncStmt) stmtNode()  {}
func (*ImportStmt) stmtNode() {}

// ---------------------------------------------------------------------------
// Expressions

// Ident is a bare name.
type Ident struct {
	NamePos Pos
	Name    string
}

// GlobalIdent is `$name`: always reads the global variable.
type GlobalIdent struct {
	Dollar Pos
	Name   string
}

// LitKind is the kind of a BasicLit.
type LitKind uint8

// Literal kinds.
const (
	IntLit    LitKind = iota + 1 // 42
	FloatLit                     // 3.5, 1e3
	StringLit                    // "text" or 'text'
	NoneLit                      // None, null
	TrueLit                      // True, true
	FalseLit                     // False, false
)

// BasicLit is a literal of a basic kind.
type BasicLit struct {
	ValuePos Pos
	Kind     LitKind
	Raw      string // source text, quotes and escapes included
	Value    string // decoded value: unquoted, unescaped string; number text
}

// TemplateLit is a backtick string “ `text ${name} more` “.
type TemplateLit struct {
	Backtick Pos
	Raw      string         // source text between the backticks
	Parts    []TemplatePart // literal text and ${name} references in order
}

// TemplatePart is one piece of a template: literal text (Name == "") or a
// ${Name} placeholder.
type TemplatePart struct {
	Text string
	Name string
	Pos  Pos // position of the text or of '$'
}

// OpLit is a bare comparison operator used as an argument, as in
// `if(x, 0, >)` or `if(a, b, in)`. Valid only as a call argument.
type OpLit struct {
	OpPos Pos
	Op    string // "=", "==", "!=", "<", ">", "<=", ">=", "in"
}

// ListLit is `[a, b, c]`.
type ListLit struct {
	Lbrack Pos
	Elems  []Expr
	Rbrack Pos
}

// DictLit is `{k: v, ...}`.
type DictLit struct {
	Lbrace Pos
	Keys   []Expr
	Values []Expr
	Rbrace Pos
}

// ParenExpr is `(x)`; kept for faithful printing.
type ParenExpr struct {
	Lparen Pos
	X      Expr
	Rparen Pos
}

// UnaryExpr is `-x`, `+x`, `~x` or `not x`.
type UnaryExpr struct {
	OpPos Pos
	Op    Token // SUB, ADD, TILDE, NOT
	X     Expr
}

// BinaryExpr is `x op y` for arithmetic, bitwise, comparison, membership
// (IN, NOT_IN), identity (IS, IS_NOT) and boolean (AND, OR) operators.
// A chained comparison `a < b < c` is parsed as `(a < b) and (b < c)`.
type BinaryExpr struct {
	X     Expr
	OpPos Pos
	Op    Token
	Y     Expr
}

// CondExpr is `then if cond else els`.
type CondExpr struct {
	Then Expr
	If   Pos
	Cond Expr
	Else Expr
}

// IndexExpr is `x[i]`.
type IndexExpr struct {
	X      Expr
	Lbrack Pos
	Index  Expr
	Rbrack Pos
}

// SliceExpr is `x[lo:hi]` or `x[lo:hi:step]`; absent parts are nil.
type SliceExpr struct {
	X      Expr
	Lbrack Pos
	Lo     Expr
	Hi     Expr
	Step   Expr
	Rbrack Pos
}

// AttrExpr is `x.name`.
type AttrExpr struct {
	X    Expr
	Name *Ident
}

// CallExpr is `fun(args)`. Fun is an *Ident (command, built-in or user
// function) or an *AttrExpr (method call). An empty argument slot, as in
// `RequestGet(url, , , res)`, is a nil entry in Args.
type CallExpr struct {
	Fun    Expr
	Lparen Pos
	Args   []Expr
	Rparen Pos
}

func (x *Ident) Pos() Pos       { return x.NamePos }
func (x *GlobalIdent) Pos() Pos { return x.Dollar }
func (x *BasicLit) Pos() Pos    { return x.ValuePos }
func (x *TemplateLit) Pos() Pos { return x.Backtick }
func (x *OpLit) Pos() Pos       { return x.OpPos }
func (x *ListLit) Pos() Pos     { return x.Lbrack }
func (x *DictLit) Pos() Pos     { return x.Lbrace }
func (x *ParenExpr) Pos() Pos   { return x.Lparen }
func (x *UnaryExpr) Pos() Pos   { return x.OpPos }
func (x *BinaryExpr) Pos() Pos  { return x.X.Pos() }
func (x *CondExpr) Pos() Pos    { return x.Then.Pos() }
func (x *IndexExpr) Pos() Pos   { return x.X.Pos() }
func (x *SliceExpr) Pos() Pos   { return x.X.Pos() }
func (x *AttrExpr) Pos() Pos    { return x.X.Pos() }
func (x *CallExpr) Pos() Pos    { return x.Fun.Pos() }

func (*Ident) exprNode()       {}
func (*GlobalIdent) exprNode() {}
func (*BasicLit) exprNode()    {}
func (*TemplateLit) exprNode() {}
func (*OpLit) exprNode()       {}
func (*ListLit) exprNode()     {}
func (*DictLit) exprNode()     {}
func (*ParenExpr) exprNode()   {}
func (*UnaryExpr) exprNode()   {}
func (*BinaryExpr) exprNode()  {}
func (*CondExpr) exprNode()    {}
func (*IndexExpr) exprNode()   {}
func (*SliceExpr) exprNode()   {}
func (*AttrExpr) exprNode()    {}
func (*CallExpr) exprNode()    {}

// ---------------------------------------------------------------------------
// Additions to the first version of the contract.

// TupleLit is `(a, b)`, `(a,)` or `()`, as used by %-formatting:
// `"%s-%s" % (a, b)`.
type TupleLit struct {
	Lparen Pos
	Elems  []Expr
	Rparen Pos
}

func (x *TupleLit) Pos() Pos { return x.Lparen }
func (*TupleLit) exprNode()  {}

// Pos returns the position of the first statement, or 1:1 for an empty
// file, so that a *File is a Node and can be walked with Inspect.
func (f *File) Pos() Pos {
	if len(f.Stmts) > 0 {
		return f.Stmts[0].Pos()
	}
	return Pos{Line: 1, Col: 1}
}
