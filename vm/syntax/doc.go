// Package syntax scans, parses and prints AVAP programs.
//
// Parse turns source text into the tree defined in ast.go; Format prints a
// tree back as canonical source; Inspect walks a tree. The package uses the
// standard library only and is safe for concurrent use (it has no shared
// state).
//
// # What is accepted
//
// One statement per line; a newline ends a statement and ';' separates
// statements on one line. Inside [...] and {...} literals newlines are
// ignored, so a long list or dict may span lines; inside the parentheses
// of a call, a parenthesised expression or a subscript they are not, so an
// unclosed '(' is reported on its own line. Indentation is not
// significant. Comments are // to the end of the line (outside strings) and
// non-nesting /* ... */; a /* */ comment that spans lines counts as a line
// break. '#' is not a comment. There is no floor-division operator: // always
// starts a comment.
//
// Statements:
//
//	name(args)                   command or function call; empty slots allowed: f(a, , b)
//	x.method(args)               method call
//	x = expression               assignment; x = cmd(args) assigns a command's output
//	if(left, right, op)          comparison mode: op is = == != < > <= >= in, bare or quoted
//	if(None, None, "expr")       expression mode: any other third argument is a condition;
//	                             a quoted or `backtick` condition is parsed as an expression
//	else()  end()                end() closes the innermost if, try or go_async
//	startLoop(i, from, to)       closed by endLoop() (or end(), as AVAP Lite allows)
//	endLoop()
//	try()  exception(e)  end()   also x = exception(e) and exception(); without end()
//	                             the handler runs to the end of the enclosing block
//	function f(a, b) {  ...  }   top level only; the brace may be on the next line
//	return(v)  return v  return()  return
//	go_async(id)  ...  end()
//	import("name@^1.2")  include("path.avap")   the argument must be a string literal
//
// Names that take a variable (the loop variable, exception's variable) may
// be quoted: startLoop("i", 1, 3). Block keywords are recognised only when
// followed by '('; otherwise they are ordinary names.
//
// Expressions follow Python (LANGUAGE.md §7.3), lowest precedence first:
// `a if c else b`; or; and; not; comparisons == != < > <= >= in, not in, is,
// is not (chained: a < b < c is (a < b) and (b < c), with b shared); | ^ &
// << >>; + -; * / %; unary - + ~; ** (right-associative, binds tighter
// than a unary operator on its left). Primaries: literals, names, $name
// (global), (x), tuples (a, b) / (a,) / () for %-formatting, [list],
// {dict}, x[i], x[lo:hi:step], x.attr, f(args). Only names and attributes
// can be called. In an expression '=' is not equality (use '=='). A bare
// comparator (= == != < > <= >= in) may stand alone as a call argument
// (an OpLit), which is how if(x, 0, >) is written.
//
// Literals: integers (64-bit; larger is an error), floats (3.5, 1e3, .5,
// 5.), strings "..." and '...' with Python escapes (\\ \" \' \n \t \r \a \b
// \f \v \ooo \xHH \uHHHH \UHHHHHHHH; an unknown escape such as \d is kept
// as written, as in Python), templates `text ${name} text` (no escapes;
// a placeholder must be ${name}), None True False and their aliases null
// true false.
//
// # What is refused
//
// Everything else is a syntax error, reported with its position: illegal
// characters (including '#', '!', NUL bytes and invalid UTF-8), unterminated
// strings, templates and comments (reported at their opening character),
// bad escapes and placeholders, numbers out of range, unbalanced brackets,
// a block without its end()/endLoop()/'}' (reported at the opener, as in
// "if at 3:1 has no matching end()"), a stray else()/end()/endLoop()/
// exception()/'}', a second else(), expressions used as statements
// (x + 1), assignments to anything but a name (5 = x, a.b = 1), nested
// function declarations, if() without exactly three arguments, and
// import()/include() without a string literal. Sources larger than
// Options.MaxSourceBytes (1 MiB by default) are refused outright, and
// nesting of blocks plus expressions deeper than Options.MaxNesting (200 by
// default) stops the parse with "nesting too deep", so hostile input cannot
// exhaust the stack. After 200 errors the parser gives up.
//
// # How errors come back
//
// Parse always returns a non-nil *File holding every statement it could
// parse (in a partial tree, fields that could not be parsed may be nil or
// invalid positions; only an error-free tree satisfies the field comments
// of ast.go). On failure the error is an ErrorList with all the errors found,
// sorted by position; each *Error has Filename, Pos (1-based line and byte
// column) and Msg (lowercase, no trailing period), and ErrorList.Error
// prints one "name:line:col: msg" per line. The parser recovers at line
// boundaries, so every bad line is reported, at most one error per line
// (block-structure errors are always reported). Conditions written as
// strings in if() are parsed with their positions mapped into the source
// (same line, columns counted from the opening quote).
//
// # Grammar
//
// In EBNF; NEWLINE is a line break (or ';'), ignored inside [ ] and { }:
//
//	File       = { [ Stmt ] NEWLINE } .
//	Stmt       = Call | Assign | If | Loop | Try | Func | Return | Async | Import .
//	Call       = Primary "(" Args ")" .                         (* ends in a call *)
//	Args       = [ [ Arg ] { "," [ Arg ] } ] .                  (* empty slots are nil *)
//	Arg        = Expr | Comparator .
//	Comparator = "=" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" .
//	Assign     = name "=" Expr .
//	If         = "if" "(" Args ")" NEWLINE Block [ "else" "(" ")" NEWLINE Block ] End .
//	Loop       = "startLoop" "(" Args ")" NEWLINE Block ( "endLoop" | "end" ) "(" ")" .
//	Try        = "try" "(" ")" NEWLINE Block
//	             [ name "=" ] "exception" "(" [ Arg ] ")" NEWLINE Block [ End ] .
//	Async      = "go_async" "(" Expr ")" NEWLINE Block End .
//	End        = "end" "(" ")" .
//	Func       = "function" name "(" [ name { "," name } ] ")" { NEWLINE } "{" Block "}" .
//	Return     = "return" [ "(" ")" | Expr ] .
//	Import     = ( "import" | "include" ) "(" string ")" .
//	Block      = { [ Stmt ] NEWLINE } .
//
//	Expr       = OrExpr [ "if" OrExpr "else" Expr ] .
//	OrExpr     = AndExpr { "or" AndExpr } .
//	AndExpr    = NotExpr { "and" NotExpr } .
//	NotExpr    = "not" NotExpr | Comparison .
//	Comparison = BitOr { CompOp BitOr } .
//	CompOp     = "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" | "not" "in" | "is" [ "not" ] .
//	BitOr      = BitXor { "|" BitXor } .
//	BitXor     = BitAnd { "^" BitAnd } .
//	BitAnd     = Shift { "&" Shift } .
//	Shift      = Sum { ( "<<" | ">>" ) Sum } .
//	Sum        = Term { ( "+" | "-" ) Term } .
//	Term       = Unary { ( "*" | "/" | "%" ) Unary } .
//	Unary      = ( "-" | "+" | "~" ) Unary | Power .
//	Power      = Primary [ "**" Unary ] .
//	Primary    = Operand { "." name | "[" Subscript "]" | "(" Args ")" } .
//	Subscript  = Expr | [ Expr ] ":" [ Expr ] [ ":" [ Expr ] ] .
//	Operand    = name | "$" name | int | float | string | template
//	           | "None" | "True" | "False" | "null" | "true" | "false"
//	           | "(" Expr ")" | "(" [ Expr "," [ Expr { "," Expr } [ "," ] ] ] ")"
//	           | "[" [ Expr { "," Expr } [ "," ] ] "]"
//	           | "{" [ Expr ":" Expr { "," Expr ":" Expr } [ "," ] ] "}" .
//
// # Printing
//
// Format prints a tree as canonical source: four-space indentation, one
// statement per line, comparators and conditions of if() as quoted strings,
// return as return(v), and every try block closed by end(). Comments are
// not kept. Parsing Format's output gives the same tree (positions aside),
// and Format is idempotent.
package syntax
