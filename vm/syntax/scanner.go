package syntax

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ScanMode controls what the Scanner returns.
type ScanMode uint

// Scan modes.
const (
	// ScanComments makes the scanner return COMMENT tokens instead of
	// skipping comments.
	ScanComments ScanMode = 1 << iota
)

// A Scanner splits AVAP source text into tokens. Use Init, then call Scan
// until it returns EOF. The zero Scanner is not usable.
//
// Errors (illegal characters, unterminated strings and comments, bad
// escapes, numbers out of range, invalid UTF-8, NUL bytes) go to the error
// handler given to Init; scanning always continues and never panics.
type Scanner struct {
	src  string
	errh func(pos Pos, msg string)
	mode ScanMode

	off       int   // offset of the next byte to read
	line      int32 // current line
	lineOff   int   // offset of the first byte of the current line
	firstLine int32 // first line; columns on it are shifted by colBase
	colBase   int32

	val   string         // decoded value of the last STRING token
	parts []TemplatePart // parts of the last TEMPLATE token

	// ErrorCount is the number of errors reported so far.
	ErrorCount int
}

// Init prepares s to scan src. errh, if not nil, receives every error.
func (s *Scanner) Init(src []byte, errh func(pos Pos, msg string), mode ScanMode) {
	s.init(string(src), Pos{Line: 1, Col: 1}, errh, mode)
}

// init starts scanning src as if its first byte were at base.
func (s *Scanner) init(src string, base Pos, errh func(pos Pos, msg string), mode ScanMode) {
	*s = Scanner{
		src:       src,
		errh:      errh,
		mode:      mode,
		line:      base.Line,
		firstLine: base.Line,
		colBase:   base.Col - 1,
	}
	if strings.HasPrefix(src, "\uFEFF") && base.Line == 1 && base.Col == 1 {
		s.off = 3 // skip a byte order mark
		s.colBase -= 3
	}
}

// StringValue returns the decoded value of the STRING token returned by the
// last call to Scan.
func (s *Scanner) StringValue() string { return s.val }

// TemplateParts returns the parts of the TEMPLATE token returned by the last
// call to Scan.
func (s *Scanner) TemplateParts() []TemplatePart { return s.parts }

func (s *Scanner) posAt(off int) Pos {
	col := int32(off-s.lineOff) + 1
	if s.line == s.firstLine {
		col += s.colBase
	}
	return Pos{Line: s.line, Col: col}
}

func (s *Scanner) errorAt(pos Pos, msg string) {
	s.ErrorCount++
	if s.errh != nil {
		s.errh(pos, msg)
	}
}

func (s *Scanner) errorf(off int, format string, args ...any) {
	s.errorAt(s.posAt(off), fmt.Sprintf(format, args...))
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// Scan returns the next token: its position, kind and source text. The text
// is the identifier or number as written, "$name" for DOLLAR, the quoted
// literal for STRING (see StringValue), the literal with its backticks for
// TEMPLATE (see TemplateParts), the comment text for COMMENT, "\n" for
// NEWLINE, the offending character for ILLEGAL and "" for operators.
//
// A /* */ comment that spans lines is returned as a NEWLINE (unless
// ScanComments is set), so that it separates statements like a line break.
func (s *Scanner) Scan() (pos Pos, tok Token, lit string) {
redo:
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v' {
			break
		}
		s.off++
	}
	pos = s.posAt(s.off)
	if s.off >= len(s.src) {
		return pos, EOF, ""
	}
	start := s.off
	c := s.src[s.off]
	switch {
	case isLetter(c):
		return s.scanIdent(pos, start)
	case isDigit(c):
		return s.scanNumber(pos, start)
	case c >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(s.src[s.off:])
		if r == utf8.RuneError && size == 1 {
			s.off++
			s.errorAt(pos, "invalid UTF-8 encoding")
			return pos, ILLEGAL, s.src[start:s.off]
		}
		if unicode.IsLetter(r) {
			return s.scanIdent(pos, start)
		}
		s.off += size
		s.errorAt(pos, fmt.Sprintf("illegal character %#U", r))
		return pos, ILLEGAL, s.src[start:s.off]
	}
	s.off++
	switch c {
	case '\n':
		s.line++
		s.lineOff = s.off
		return pos, NEWLINE, "\n"
	case '"', '\'':
		return s.scanString(pos, start, c)
	case '`':
		return s.scanTemplate(pos, start)
	case '$':
		if s.off < len(s.src) && s.identStart(s.off) {
			_, _, name := s.scanIdent(pos, s.off)
			return pos, DOLLAR, "$" + name
		}
		s.errorAt(pos, "expected a name after '$'")
		return pos, ILLEGAL, "$"
	case '.':
		if s.off < len(s.src) && isDigit(s.src[s.off]) {
			return s.scanNumber(pos, start)
		}
		return pos, DOT, ""
	case '/':
		if s.off < len(s.src) {
			switch s.src[s.off] {
			case '/':
				s.off++
				s.skipLineComment()
				if s.mode&ScanComments != 0 {
					return pos, COMMENT, s.src[start:s.off]
				}
				goto redo
			case '*':
				s.off++
				multiline := s.skipBlockComment(pos)
				if s.mode&ScanComments != 0 {
					return pos, COMMENT, s.src[start:s.off]
				}
				if multiline {
					return pos, NEWLINE, "\n"
				}
				goto redo
			}
		}
		return pos, QUO, ""
	case '+':
		return pos, ADD, ""
	case '-':
		return pos, SUB, ""
	case '*':
		if s.next('*') {
			return pos, POW, ""
		}
		return pos, MUL, ""
	case '%':
		return pos, REM, ""
	case '&':
		return pos, AMP, ""
	case '|':
		return pos, PIPE, ""
	case '^':
		return pos, CARET, ""
	case '~':
		return pos, TILDE, ""
	case '<':
		if s.next('=') {
			return pos, LEQ, ""
		}
		if s.next('<') {
			return pos, SHL, ""
		}
		return pos, LSS, ""
	case '>':
		if s.next('=') {
			return pos, GEQ, ""
		}
		if s.next('>') {
			return pos, SHR, ""
		}
		return pos, GTR, ""
	case '=':
		if s.next('=') {
			return pos, EQL, ""
		}
		return pos, ASSIGN, ""
	case '!':
		if s.next('=') {
			return pos, NEQ, ""
		}
		s.errorAt(pos, "illegal character '!' (use 'not' or '!=')")
		return pos, ILLEGAL, "!"
	case '(':
		return pos, LPAREN, ""
	case ')':
		return pos, RPAREN, ""
	case '[':
		return pos, LBRACK, ""
	case ']':
		return pos, RBRACK, ""
	case '{':
		return pos, LBRACE, ""
	case '}':
		return pos, RBRACE, ""
	case ',':
		return pos, COMMA, ""
	case ':':
		return pos, COLON, ""
	case ';':
		return pos, SEMICOLON, ""
	case '#':
		s.errorAt(pos, "illegal character '#' (comments start with //)")
		return pos, ILLEGAL, "#"
	case 0:
		s.errorAt(pos, "illegal character NUL")
		return pos, ILLEGAL, s.src[start:s.off]
	}
	s.errorAt(pos, fmt.Sprintf("illegal character %#U", rune(c)))
	return pos, ILLEGAL, s.src[start:s.off]
}

// next consumes the byte c if it comes next.
func (s *Scanner) next(c byte) bool {
	if s.off < len(s.src) && s.src[s.off] == c {
		s.off++
		return true
	}
	return false
}

// identStart reports whether an identifier starts at off.
func (s *Scanner) identStart(off int) bool {
	c := s.src[off]
	if isLetter(c) {
		return true
	}
	if c < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s.src[off:])
	return unicode.IsLetter(r)
}

func (s *Scanner) scanIdent(pos Pos, start int) (Pos, Token, string) {
	s.off = start
	for s.off < len(s.src) {
		c := s.src[s.off]
		if isLetter(c) || isDigit(c) {
			s.off++
			continue
		}
		if c < utf8.RuneSelf {
			break
		}
		r, size := utf8.DecodeRuneInString(s.src[s.off:])
		if r == utf8.RuneError && size == 1 || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		s.off += size
	}
	lit := s.src[start:s.off]
	return pos, keyword(lit), lit
}

// keyword returns the keyword token for lit, or IDENT.
func keyword(lit string) Token {
	switch lit {
	case "and":
		return AND
	case "or":
		return OR
	case "not":
		return NOT
	case "in":
		return IN
	case "is":
		return IS
	case "if":
		return IF
	case "else":
		return ELSE
	}
	return IDENT
}

func (s *Scanner) digits() {
	for s.off < len(s.src) && isDigit(s.src[s.off]) {
		s.off++
	}
}

func (s *Scanner) scanNumber(pos Pos, start int) (Pos, Token, string) {
	s.off = start
	tok := INT
	s.digits()
	if s.off < len(s.src) && s.src[s.off] == '.' {
		tok = FLOAT
		s.off++
		s.digits()
	}
	if s.off < len(s.src) && (s.src[s.off] == 'e' || s.src[s.off] == 'E') {
		i := s.off + 1
		if i < len(s.src) && (s.src[i] == '+' || s.src[i] == '-') {
			i++
		}
		if i < len(s.src) && isDigit(s.src[i]) {
			tok = FLOAT
			s.off = i
			s.digits()
		}
	}
	lit := s.src[start:s.off]
	if tok == INT {
		if _, err := strconv.ParseInt(lit, 10, 64); err != nil {
			s.errorAt(pos, "integer literal "+shorten(lit)+" out of range (64-bit)")
		}
	} else if _, err := strconv.ParseFloat(lit, 64); err != nil {
		s.errorAt(pos, "float literal "+shorten(lit)+" out of range")
	}
	return pos, tok, lit
}

func (s *Scanner) skipLineComment() {
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c == '\n' {
			return
		}
		s.checkByte()
	}
}

// checkByte consumes one character of a comment, string or template,
// reporting NUL bytes and invalid UTF-8.
func (s *Scanner) checkByte() {
	c := s.src[s.off]
	if c == 0 {
		s.errorf(s.off, "illegal character NUL")
		s.off++
		return
	}
	if c < utf8.RuneSelf {
		s.off++
		return
	}
	r, size := utf8.DecodeRuneInString(s.src[s.off:])
	if r == utf8.RuneError && size == 1 {
		s.errorf(s.off, "invalid UTF-8 encoding")
	}
	s.off += size
}

// skipBlockComment skips to the end of a /* comment and reports whether it
// spanned lines.
func (s *Scanner) skipBlockComment(pos Pos) (multiline bool) {
	for s.off < len(s.src) {
		c := s.src[s.off]
		switch {
		case c == '*' && s.off+1 < len(s.src) && s.src[s.off+1] == '/':
			s.off += 2
			return multiline
		case c == '\n':
			s.off++
			s.line++
			s.lineOff = s.off
			multiline = true
		default:
			s.checkByte()
		}
	}
	s.errorAt(pos, "comment not terminated")
	return multiline
}

func (s *Scanner) scanString(pos Pos, start int, quote byte) (Pos, Token, string) {
	var buf []byte // decoded value, only once an escape is seen
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.errorAt(pos, "string literal not terminated")
			break
		}
		c := s.src[s.off]
		if c == quote {
			s.off++
			break
		}
		if c == '\\' {
			if buf == nil {
				buf = append(make([]byte, 0, s.off-start+16), s.src[start+1:s.off]...)
			}
			if !s.escape(&buf) {
				// A backslash before a newline or the end of the text.
				s.errorAt(pos, "string literal not terminated")
				break
			}
			continue
		}
		from := s.off
		s.checkByte()
		if buf != nil {
			buf = append(buf, s.src[from:s.off]...)
		}
	}
	lit := s.src[start:s.off]
	switch {
	case buf != nil:
		s.val = string(buf)
	case len(lit) >= 2 && lit[len(lit)-1] == quote:
		s.val = lit[1 : len(lit)-1]
	default:
		s.val = lit[1:]
	}
	return pos, STRING, lit
}

// escape decodes the escape sequence at s.off (a backslash) into buf. It
// returns false when the backslash is followed by a newline or the end of
// the text. Unknown escapes are kept as they are, as in Python.
func (s *Scanner) escape(buf *[]byte) bool {
	bs := s.off
	s.off++ // backslash
	if s.off >= len(s.src) || s.src[s.off] == '\n' {
		return false
	}
	c := s.src[s.off]
	s.off++
	switch c {
	case '\\', '\'', '"':
		*buf = append(*buf, c)
	case 'n':
		*buf = append(*buf, '\n')
	case 't':
		*buf = append(*buf, '\t')
	case 'r':
		*buf = append(*buf, '\r')
	case 'a':
		*buf = append(*buf, '\a')
	case 'b':
		*buf = append(*buf, '\b')
	case 'f':
		*buf = append(*buf, '\f')
	case 'v':
		*buf = append(*buf, '\v')
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v := rune(c - '0')
		for i := 0; i < 2 && s.off < len(s.src) && '0' <= s.src[s.off] && s.src[s.off] <= '7'; i++ {
			v = v*8 + rune(s.src[s.off]-'0')
			s.off++
		}
		*buf = utf8.AppendRune(*buf, v)
	case 'x', 'u', 'U':
		n := 2
		switch c {
		case 'u':
			n = 4
		case 'U':
			n = 8
		}
		var v rune
		for i := 0; i < n; i++ {
			if s.off >= len(s.src) {
				s.errorf(bs, "invalid \\%c escape: need %d hex digits", c, n)
				return true
			}
			d := hexVal(s.src[s.off])
			if d < 0 {
				s.errorf(bs, "invalid \\%c escape: need %d hex digits", c, n)
				return true
			}
			v = v*16 + rune(d)
			s.off++
		}
		if v > unicode.MaxRune || 0xD800 <= v && v < 0xE000 {
			s.errorf(bs, "escape sequence is an invalid Unicode code point")
			v = utf8.RuneError
		}
		*buf = utf8.AppendRune(*buf, v)
	default:
		// Unknown escape: keep the backslash and the character ("\d").
		s.off--
		*buf = append(*buf, '\\')
		from := s.off
		s.checkByte()
		*buf = append(*buf, s.src[from:s.off]...)
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (s *Scanner) scanTemplate(pos Pos, start int) (Pos, Token, string) {
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.errorAt(pos, "template literal not terminated")
			break
		}
		if s.src[s.off] == '`' {
			s.off++
			break
		}
		s.checkByte()
	}
	lit := s.src[start:s.off]
	raw := lit[1:]
	if strings.HasSuffix(raw, "`") {
		raw = raw[:len(raw)-1]
	}
	s.parts = s.templateParts(raw, start+1)
	return pos, TEMPLATE, lit
}

// templateParts splits the text of a template (starting at offset base,
// on the current line) into literal text and ${name} placeholders.
func (s *Scanner) templateParts(raw string, base int) []TemplatePart {
	var parts []TemplatePart
	textStart := 0
	i := 0
	for i < len(raw) {
		if raw[i] != '$' || i+1 >= len(raw) || raw[i+1] != '{' {
			i++
			continue
		}
		end := strings.IndexByte(raw[i+2:], '}')
		if end < 0 {
			s.errorf(base+i, "placeholder ${ not closed with } in template")
			break
		}
		name := raw[i+2 : i+2+end]
		if !isIdent(name) {
			s.errorf(base+i, "invalid placeholder ${%s} in template: want ${name}", name)
			i += 2 + end + 1
			continue
		}
		if textStart < i {
			parts = append(parts, TemplatePart{Text: raw[textStart:i], Pos: s.posAt(base + textStart)})
		}
		parts = append(parts, TemplatePart{Name: name, Pos: s.posAt(base + i)})
		i += 2 + end + 1
		textStart = i
	}
	if textStart < len(raw) {
		parts = append(parts, TemplatePart{Text: raw[textStart:], Pos: s.posAt(base + textStart)})
	}
	return parts
}

// isIdent reports whether name is a valid identifier that is not a keyword.
func isIdent(name string) bool {
	if name == "" || keyword(name) != IDENT {
		return false
	}
	for i, r := range name {
		if r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r) {
			continue
		}
		return false
	}
	return true
}

// shorten returns lit, cut to a readable length for an error message.
func shorten(lit string) string {
	const max = 24
	if len(lit) <= max {
		return lit
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(lit[cut]) {
		cut--
	}
	return lit[:cut] + "..."
}
