package vm

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MarshalJSON encodes v as JSON the way the response does: insertion-ordered
// objects, whole floats with ".0" (Part A #20), strings escaped like
// Python's json.dumps(ensure_ascii=False), NaN and infinities as null.
func (v Value) MarshalJSON() ([]byte, error) {
	var m Machine
	m.lim.MaxMemoryBytes = 1 << 62
	return m.appendJSON(nil, v, 0)
}

// appendJSON appends the JSON encoding of v to dst.
func (m *Machine) appendJSON(dst []byte, v Value, depth int) ([]byte, error) {
	switch v.k {
	case KindNone, kindUndef:
		return append(dst, "null"...), nil
	case KindBool:
		if v.n != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case KindInt:
		return strconv.AppendInt(dst, v.i(), 10), nil
	case KindFloat:
		f := v.f()
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			return append(dst, "null"...), nil
		}
		return appendFloat(dst, f), nil
	case KindString:
		return appendJSONString(dst, v.str()), nil
	}
	if depth > maxNest {
		return dst, m.errorf("value nested too deeply (or cyclic)")
	}
	if int64(len(dst)) > m.lim.MaxMemoryBytes {
		return dst, m.memErr()
	}
	var err error
	switch v.k {
	case KindList:
		dst = append(dst, '[')
		for i, e := range v.list().elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = m.appendJSON(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case KindDict:
		d := v.dict()
		dst = append(dst, '{')
		for i, e := range d.entries {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e.key)
			dst = append(dst, ':')
			if dst, err = m.appendJSON(dst, e.val, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return append(dst, "null"...), nil
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ---------------------------------------------------------------------------
// Decoding

// decodeJSON parses data into a Value, charging the run's memory budget.
// Objects keep key order; integers without fraction or exponent that fit
// int64 become int, other numbers float.
func (m *Machine) decodeJSON(data []byte) (Value, error) {
	d := jsonDecoder{m: m, data: data}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return None, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return None, d.syntaxErr("extra data")
	}
	return v, nil
}

// ParseJSON decodes JSON text into a Value (for Host implementations).
func ParseJSON(data []byte) (Value, error) {
	var m Machine
	m.lim.MaxMemoryBytes = 1 << 62
	v, err := m.decodeJSON(data)
	if err != nil {
		if re, ok := err.(*runtimeError); ok {
			return None, &EvalError{Msg: re.msg, cause: re.cause}
		}
	}
	return v, err
}

type jsonDecoder struct {
	m    *Machine
	data []byte
	pos  int
}

func (d *jsonDecoder) syntaxErr(msg string) error {
	return d.m.errorf("invalid JSON at offset %d: %s", d.pos, msg)
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (Value, error) {
	if depth > maxNest {
		return None, d.m.errorf("JSON nested too deeply")
	}
	if d.pos >= len(d.data) {
		return None, d.syntaxErr("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		d.pos++
		if err := d.m.charge(64); err != nil {
			return None, err
		}
		obj := newDict(0)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return dictValue(obj), nil
		}
		for {
			d.skipSpace()
			if d.pos >= len(d.data) || d.data[d.pos] != '"' {
				return None, d.syntaxErr("expected string key")
			}
			key, err := d.str()
			if err != nil {
				return None, err
			}
			d.skipSpace()
			if d.pos >= len(d.data) || d.data[d.pos] != ':' {
				return None, d.syntaxErr("expected ':'")
			}
			d.pos++
			d.skipSpace()
			v, err := d.value(depth + 1)
			if err != nil {
				return None, err
			}
			if err := d.m.charge(int64(len(key)) + 48); err != nil {
				return None, err
			}
			obj.set(key, v)
			d.skipSpace()
			if d.pos >= len(d.data) {
				return None, d.syntaxErr("unexpected end of input")
			}
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.data[d.pos] == '}' {
				d.pos++
				return dictValue(obj), nil
			}
			return None, d.syntaxErr("expected ',' or '}'")
		}
	case c == '[':
		d.pos++
		if err := d.m.charge(48); err != nil {
			return None, err
		}
		var el []Value
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			return NewList([]Value{}), nil
		}
		for {
			d.skipSpace()
			v, err := d.value(depth + 1)
			if err != nil {
				return None, err
			}
			if err := d.m.charge(valueSize); err != nil {
				return None, err
			}
			el = append(el, v)
			d.skipSpace()
			if d.pos >= len(d.data) {
				return None, d.syntaxErr("unexpected end of input")
			}
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.data[d.pos] == ']' {
				d.pos++
				return NewList(el), nil
			}
			return None, d.syntaxErr("expected ',' or ']'")
		}
	case c == '"':
		s, err := d.str()
		if err != nil {
			return None, err
		}
		if err := d.m.charge(int64(len(s)) + 16); err != nil {
			return None, err
		}
		return String(s), nil
	case c == 't':
		return d.lit("true", Bool(true))
	case c == 'f':
		return d.lit("false", Bool(false))
	case c == 'n':
		return d.lit("null", None)
	case c == 'N':
		return d.lit("NaN", Float(nan()))
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return None, d.syntaxErr("unexpected character")
}

func nan() float64 { var z float64; return z / z }

func (d *jsonDecoder) lit(word string, v Value) (Value, error) {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return v, nil
	}
	return None, d.syntaxErr("invalid literal")
}

func (d *jsonDecoder) number() (Value, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return None, d.syntaxErr("invalid number")
	}
	isFloat := false
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		isFloat = true
		if digits() == 0 {
			return None, d.syntaxErr("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		isFloat = true
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return None, d.syntaxErr("invalid number")
		}
	}
	text := string(d.data[start:d.pos])
	if !isFloat {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return Int(i), nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return None, d.syntaxErr("invalid number")
		}
	}
	return Float(f), nil
}

// str decodes a JSON string starting at the opening quote.
func (d *jsonDecoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			d.pos++
			if utf8.Valid(s) {
				return string(s), nil
			}
			return string([]rune(string(s))), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.syntaxErr("control character in string")
		}
		d.pos++
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if utf8.Valid(buf) {
				return string(buf), nil
			}
			return string([]rune(string(buf))), nil
		case c < 0x20:
			return "", d.syntaxErr("control character in string")
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.syntaxErr("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					if x, ok := d.hex4(); ok {
						r2 = x
					} else {
						d.pos = save
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.syntaxErr("invalid escape")
		}
		if int64(len(buf)) > d.m.lim.MaxMemoryBytes {
			return "", d.m.memErr()
		}
	}
	return "", d.syntaxErr("unterminated string")
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := d.data[d.pos+i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}
