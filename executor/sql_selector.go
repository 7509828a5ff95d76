package executor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/avapmesh/avap/vm"
)

// The selector of ormAccessSelect and ormAccessUpdate is the one part of
// those commands written as SQL text (the WHERE clause). It is never pasted
// into the statement: it is parsed with this grammar and rebuilt with every
// column quoted (pgx.Identifier) and every value a $n parameter, so what a
// script can express is exactly:
//
//	selector  = [ "WHERE" ] [ or ] [ "ORDER" "BY" order { "," order } ] [ "LIMIT" int ] [ "OFFSET" int ]
//	or        = and { "OR" and }
//	and       = not { "AND" not }
//	not       = "NOT" not | "(" or ")" | test
//	test      = column ( cmp value | "IS" [ "NOT" ] "NULL" | [ "NOT" ] "IN" "(" value { "," value } ")"
//	            | [ "NOT" ] ( "LIKE" | "ILIKE" ) value | [ "NOT" ] "BETWEEN" value "AND" value )
//	cmp       = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	value     = number | 'text' (with '' for a quote) | "text" | TRUE | FALSE | NULL
//	column    = name [ "." name ]   (letters, digits, '_'; or a "quoted" name)
//	order     = column [ "ASC" | "DESC" ]
//
// Keywords are case-insensitive. Anything else (functions, subqueries,
// comments, semicolons, casts) is refused with an error naming the
// position. A selector may also be a dict {"column": value, ...}: the
// columns equal to the values, joined by AND.

// selector is a parsed selector: SQL text with $n placeholders from
// first on, and the values of those placeholders.
type selector struct {
	where string // "" or the condition (without WHERE)
	tail  string // ORDER BY / LIMIT / OFFSET text
	args  []any
}

type selTok struct {
	kind byte // 'i' identifier/keyword, 'q' quoted identifier, 's' string, 'n' number, 'o' operator/punct, 0 EOF
	text string
	pos  int
}

type selParser struct {
	toks  []selTok
	i     int
	first int // number of the first placeholder
	args  []any
	b     strings.Builder
}

func parseSelector(v vm.Value, first int) (*selector, error) {
	switch v.Kind() {
	case vm.KindNone:
		return &selector{}, nil
	case vm.KindDict:
		var parts []string
		var args []any
		for _, k := range v.Keys() {
			col, err := columnIdent(k)
			if err != nil {
				return nil, err
			}
			x, _ := v.Get(k)
			if x.IsNone() {
				parts = append(parts, col+" IS NULL")
				continue
			}
			args = append(args, sqlArg(x))
			parts = append(parts, col+" = $"+strconv.Itoa(first+len(args)-1))
		}
		return &selector{where: strings.Join(parts, " AND "), args: args}, nil
	case vm.KindString:
	default:
		return nil, fmt.Errorf("selector must be text or a dict, not %s", v.Kind())
	}
	toks, err := lexSelector(v.AsString())
	if err != nil {
		return nil, err
	}
	p := &selParser{toks: toks, first: first}
	return p.parse()
}

func lexSelector(s string) ([]selTok, error) {
	var toks []selTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, selTok{'i', s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
			toks = append(toks, selTok{'n', s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("selector: unterminated quote at %d", i+1)
			}
			kind := byte('s')
			if c == '"' {
				// "x" is a quoted column when an identifier is expected; the
				// parser decides (AVAP scripts often quote text with ").
				kind = 'q'
			}
			toks = append(toks, selTok{kind, b.String(), i})
			i = j + 1
		default:
			for _, op := range []string{"<=", ">=", "<>", "!=", "==", "=", "<", ">", "(", ")", ",", "."} {
				if strings.HasPrefix(s[i:], op) {
					toks = append(toks, selTok{'o', op, i})
					i += len(op)
					goto next
				}
			}
			return nil, fmt.Errorf("selector: unexpected %q at %d", c, i+1)
		next:
		}
	}
	return append(toks, selTok{pos: len(s)}), nil
}

func (p *selParser) peek() selTok { return p.toks[p.i] }

func (p *selParser) kw(words ...string) bool {
	for k, w := range words {
		if p.i+k >= len(p.toks) {
			return false
		}
		t := p.toks[p.i+k]
		if t.kind != 'i' || !strings.EqualFold(t.text, w) {
			return false
		}
	}
	p.i += len(words)
	return true
}

func (p *selParser) op(o string) bool {
	if t := p.peek(); t.kind == 'o' && t.text == o {
		p.i++
		return true
	}
	return false
}

func (p *selParser) errorf(format string, args ...any) error {
	t := p.peek()
	what := "end of selector"
	if t.kind != 0 {
		what = strconv.Quote(t.text)
	}
	return fmt.Errorf("selector: %s at %d: %s", fmt.Sprintf(format, args...), t.pos+1, what)
}

var selKeywords = map[string]bool{"and": true, "or": true, "not": true, "in": true, "is": true, "null": true,
	"like": true, "ilike": true, "between": true, "order": true, "by": true, "limit": true, "offset": true,
	"asc": true, "desc": true, "true": true, "false": true, "where": true}

func (p *selParser) parse() (*selector, error) {
	p.kw("WHERE")
	sel := &selector{}
	if t := p.peek(); t.kind != 0 && !(t.kind == 'i' && (strings.EqualFold(t.text, "order") || strings.EqualFold(t.text, "limit") || strings.EqualFold(t.text, "offset"))) {
		if err := p.or(); err != nil {
			return nil, err
		}
		sel.where = p.b.String()
	}
	var tail strings.Builder
	if p.kw("ORDER", "BY") {
		tail.WriteString("ORDER BY ")
		for n := 0; ; n++ {
			col, err := p.column()
			if err != nil {
				return nil, err
			}
			if n > 0 {
				tail.WriteString(", ")
			}
			tail.WriteString(col)
			if p.kw("DESC") {
				tail.WriteString(" DESC")
			} else if p.kw("ASC") {
				tail.WriteString(" ASC")
			}
			if !p.op(",") {
				break
			}
		}
	}
	for _, w := range []string{"LIMIT", "OFFSET"} {
		if p.kw(w) {
			t := p.peek()
			n, err := strconv.ParseUint(t.text, 10, 31)
			if t.kind != 'n' || err != nil {
				return nil, p.errorf("%s needs a whole number", w)
			}
			p.i++
			if tail.Len() > 0 {
				tail.WriteByte(' ')
			}
			tail.WriteString(w + " " + strconv.FormatUint(n, 10))
		}
	}
	if p.peek().kind != 0 {
		return nil, p.errorf("unexpected")
	}
	sel.tail, sel.args = tail.String(), p.args
	return sel, nil
}

func (p *selParser) or() error {
	if err := p.and(); err != nil {
		return err
	}
	for p.kw("OR") {
		p.b.WriteString(" OR ")
		if err := p.and(); err != nil {
			return err
		}
	}
	return nil
}

func (p *selParser) and() error {
	if err := p.not(0); err != nil {
		return err
	}
	for p.kw("AND") {
		p.b.WriteString(" AND ")
		if err := p.not(0); err != nil {
			return err
		}
	}
	return nil
}

func (p *selParser) not(depth int) error {
	if depth > 50 {
		return p.errorf("nested too deeply")
	}
	if p.kw("NOT") {
		p.b.WriteString("NOT ")
		return p.not(depth + 1)
	}
	if p.op("(") {
		p.b.WriteByte('(')
		if err := p.or(); err != nil {
			return err
		}
		if !p.op(")") {
			return p.errorf("expected )")
		}
		p.b.WriteByte(')')
		return nil
	}
	return p.test()
}

func (p *selParser) test() error {
	col, err := p.column()
	if err != nil {
		return err
	}
	p.b.WriteString(col)
	t := p.peek()
	if t.kind == 'o' {
		switch t.text {
		case "=", "==", "!=", "<>", "<", "<=", ">", ">=":
			p.i++
			op := t.text
			if op == "==" {
				op = "="
			}
			p.b.WriteString(" " + op + " ")
			return p.value()
		}
		return p.errorf("expected a comparison")
	}
	if p.kw("IS") {
		if p.kw("NOT") {
			p.b.WriteString(" IS NOT")
		} else {
			p.b.WriteString(" IS")
		}
		if !p.kw("NULL") {
			return p.errorf("expected NULL")
		}
		p.b.WriteString(" NULL")
		return nil
	}
	if p.kw("NOT") {
		p.b.WriteString(" NOT")
	}
	switch {
	case p.kw("IN"):
		p.b.WriteString(" IN (")
		if !p.op("(") {
			return p.errorf("expected (")
		}
		for n := 0; ; n++ {
			if n > 0 {
				p.b.WriteString(", ")
			}
			if err := p.value(); err != nil {
				return err
			}
			if !p.op(",") {
				break
			}
		}
		if !p.op(")") {
			return p.errorf("expected )")
		}
		p.b.WriteByte(')')
		return nil
	case p.kw("LIKE"), p.kw("ILIKE"):
		p.b.WriteString(" " + strings.ToUpper(p.toks[p.i-1].text) + " ")
		return p.value()
	case p.kw("BETWEEN"):
		p.b.WriteString(" BETWEEN ")
		if err := p.value(); err != nil {
			return err
		}
		if !p.kw("AND") {
			return p.errorf("expected AND")
		}
		p.b.WriteString(" AND ")
		return p.value()
	}
	return p.errorf("expected a comparison")
}

// column reads name or name.name and returns it quoted.
func (p *selParser) column() (string, error) {
	var parts []string
	for {
		t := p.peek()
		if t.kind != 'i' && t.kind != 'q' || t.kind == 'i' && selKeywords[strings.ToLower(t.text)] {
			return "", p.errorf("expected a column name")
		}
		p.i++
		parts = append(parts, t.text)
		if len(parts) == 2 || !p.op(".") {
			break
		}
	}
	for _, n := range parts {
		if err := checkIdent(n); err != nil {
			return "", err
		}
	}
	return pgx.Identifier(parts).Sanitize(), nil
}

// value reads a literal and writes its placeholder.
func (p *selParser) value() error {
	t := p.peek()
	var v any
	switch t.kind {
	case 's', 'q':
		v = t.text
	case 'n':
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			v = i
		} else if f, err := strconv.ParseFloat(t.text, 64); err == nil {
			v = f
		} else {
			return p.errorf("bad number")
		}
	case 'i':
		switch strings.ToLower(t.text) {
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		default:
			return p.errorf("expected a value ('text', a number, TRUE, FALSE or NULL)")
		}
	default:
		return p.errorf("expected a value")
	}
	p.i++
	p.args = append(p.args, v)
	p.b.WriteString("$" + strconv.Itoa(p.first+len(p.args)-1))
	return nil
}

var errBadIdent = errors.New("bad identifier")

// checkIdent bounds a column or table name (it is quoted anyway).
func checkIdent(s string) error {
	if s == "" || len(s) > 63 || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%w: %q", errBadIdent, s)
	}
	return nil
}

// columnIdent quotes a column name "col" or "table.col".
func columnIdent(s string) (string, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("%w: %q", errBadIdent, s)
	}
	for i, n := range parts {
		parts[i] = strings.TrimSpace(n)
		if err := checkIdent(parts[i]); err != nil {
			return "", err
		}
	}
	return pgx.Identifier(parts).Sanitize(), nil
}
