package syntax

import "strconv"

// Token is a lexical token kind.
type Token uint8

// Token kinds.
const (
	ILLEGAL Token = iota
	EOF
	NEWLINE
	COMMENT

	IDENT    // name
	DOLLAR   // $name (the scanner returns the whole $name as one token)
	INT      // 42
	FLOAT    // 3.5
	STRING   // "x" or 'x'
	TEMPLATE // `x ${y}`

	ADD   // +
	SUB   // -
	MUL   // *
	QUO   // /   (there is no floor division: // always starts a comment)
	REM   // %
	POW   // **
	AMP   // &
	PIPE  // |
	CARET // ^
	TILDE // ~
	SHL   // <<
	SHR   // >>

	ASSIGN // =
	EQL    // ==
	NEQ    // !=
	LSS    // <
	GTR    // >
	LEQ    // <=
	GEQ    // >=

	LPAREN // (
	RPAREN // )
	LBRACK // [
	RBRACK // ]
	LBRACE // {
	RBRACE // }
	COMMA  // ,
	COLON  // :
	DOT    // .
	SEMICOLON

	// Keywords.
	AND
	OR
	NOT
	IN
	IS
	IF
	ELSE
	NOT_IN // not in (composite, produced by the parser)
	IS_NOT // is not (composite, produced by the parser)
)

var tokenNames = [...]string{
	ILLEGAL:  "ILLEGAL",
	EOF:      "EOF",
	NEWLINE:  "NEWLINE",
	COMMENT:  "COMMENT",
	IDENT:    "IDENT",
	DOLLAR:   "DOLLAR",
	INT:      "INT",
	FLOAT:    "FLOAT",
	STRING:   "STRING",
	TEMPLATE: "TEMPLATE",

	ADD:   "+",
	SUB:   "-",
	MUL:   "*",
	QUO:   "/",
	REM:   "%",
	POW:   "**",
	AMP:   "&",
	PIPE:  "|",
	CARET: "^",
	TILDE: "~",
	SHL:   "<<",
	SHR:   ">>",

	ASSIGN: "=",
	EQL:    "==",
	NEQ:    "!=",
	LSS:    "<",
	GTR:    ">",
	LEQ:    "<=",
	GEQ:    ">=",

	LPAREN:    "(",
	RPAREN:    ")",
	LBRACK:    "[",
	RBRACK:    "]",
	LBRACE:    "{",
	RBRACE:    "}",
	COMMA:     ",",
	COLON:     ":",
	DOT:       ".",
	SEMICOLON: ";",

	AND:    "and",
	OR:     "or",
	NOT:    "not",
	IN:     "in",
	IS:     "is",
	IF:     "if",
	ELSE:   "else",
	NOT_IN: "not in",
	IS_NOT: "is not",
}

// String returns the operator or keyword text of tok ("+", "not in"), or
// the upper-case name of a token class ("IDENT", "EOF").
func (tok Token) String() string {
	if int(tok) < len(tokenNames) && tokenNames[tok] != "" {
		return tokenNames[tok]
	}
	return "Token(" + strconv.Itoa(int(tok)) + ")"
}

// IsKeyword reports whether tok is a keyword (and, or, not, in, is, if, else).
func (tok Token) IsKeyword() bool { return tok >= AND && tok <= ELSE }

// IsComparison reports whether tok is a comparison, membership or identity
// operator usable in a comparison chain.
func (tok Token) IsComparison() bool {
	switch tok {
	case EQL, NEQ, LSS, GTR, LEQ, GEQ, IN, NOT_IN, IS, IS_NOT:
		return true
	}
	return false
}
