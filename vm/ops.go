package vm

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kindUndef marks an unset variable slot. It never escapes the machine:
// loads turn it into a "not defined" error, OPT loads hand it to commands,
// which treat it as "no such variable".
const kindUndef Kind = 0xFF

var undef = Value{k: kindUndef}

// maxNest bounds recursion over nested values (str, JSON, equality, copy);
// deeper or cyclic values are a runtime error instead of a Go stack overflow.
const maxNest = 500

// truth reports the truthiness of v (Part B §7.4).
func truth(v Value) bool {
	switch v.k {
	case KindNone:
		return false
	case KindBool, KindInt:
		return v.n != 0
	case KindFloat:
		return v.f() != 0
	case KindString:
		return v.n != 0
	case KindList:
		return len(v.list().elems) != 0
	case KindDict:
		return len(v.dict().entries) != 0
	}
	return false
}

// typeName returns the Python type name of v for error messages.
func typeName(v Value) string {
	if v.k == KindList && v.list().tuple {
		return "tuple"
	}
	return v.k.String()
}

// ---------------------------------------------------------------------------
// String forms

// formatFloat formats f like Python's repr(float): shortest round-trip
// digits, fixed notation for exponents -4..15 with at least one decimal,
// scientific otherwise ("1e+16", "1.5e-05").
func formatFloat(f float64) string {
	return string(appendFloat(nil, f))
}

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f != f:
		return append(dst, "nan"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	abs := math.Abs(f)
	if abs >= 1e16 || abs < 1e-4 {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// toStr returns Python's str(v).
func (m *Machine) toStr(v Value) (string, error) {
	switch v.k {
	case KindString:
		return v.str(), nil
	case KindInt:
		return strconv.FormatInt(v.i(), 10), nil
	case KindFloat:
		return formatFloat(v.f()), nil
	case KindNone:
		return "None", nil
	case KindBool:
		if v.n != 0 {
			return "True", nil
		}
		return "False", nil
	}
	b, err := m.appendRepr(nil, v, 0)
	if err != nil {
		return "", err
	}
	if err := m.charge(int64(len(b))); err != nil {
		return "", err
	}
	return string(b), nil
}

// appendRepr appends Python's repr(v).
func (m *Machine) appendRepr(dst []byte, v Value, depth int) ([]byte, error) {
	if depth > maxNest {
		return dst, m.errorf("value nested too deeply (or cyclic)")
	}
	if m != nil && int64(len(dst)) > m.lim.MaxMemoryBytes {
		return dst, m.memErr()
	}
	switch v.k {
	case KindString:
		return appendPyQuote(dst, v.str()), nil
	case KindList:
		l := v.list()
		open, close := byte('['), byte(']')
		if l.tuple {
			open, close = '(', ')'
		}
		dst = append(dst, open)
		for i, e := range l.elems {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var err error
			if dst, err = m.appendRepr(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		if l.tuple && len(l.elems) == 1 {
			dst = append(dst, ',')
		}
		return append(dst, close), nil
	case KindDict:
		d := v.dict()
		dst = append(dst, '{')
		for i, e := range d.entries {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendPyQuote(dst, e.key)
			dst = append(dst, ": "...)
			var err error
			if dst, err = m.appendRepr(dst, e.val, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case KindFloat:
		return appendFloat(dst, v.f()), nil
	case KindInt:
		return strconv.AppendInt(dst, v.i(), 10), nil
	}
	s, _ := m.toStr(v)
	return append(dst, s...), nil
}

// appendPyQuote appends s quoted like Python's repr(str).
func appendPyQuote(dst []byte, s string) []byte {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	dst = append(dst, q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20 || r == 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[r>>4], hexDigits[r&15])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, q)
}

const hexDigits = "0123456789abcdef"

// ---------------------------------------------------------------------------
// Equality and ordering (Python semantics)

func isNumeric(v Value) bool { return v.k == KindInt || v.k == KindFloat || v.k == KindBool }

func numFloat(v Value) float64 {
	if v.k == KindFloat {
		return v.f()
	}
	return float64(int64(v.n))
}

// equal reports Python's x == y.
func (m *Machine) equal(x, y Value, depth int) (bool, error) {
	if isNumeric(x) && isNumeric(y) {
		if x.k != KindFloat && y.k != KindFloat {
			return x.n == y.n, nil
		}
		return numFloat(x) == numFloat(y), nil
	}
	if x.k != y.k {
		return false, nil
	}
	switch x.k {
	case KindNone:
		return true, nil
	case KindString:
		return x.str() == y.str(), nil
	case KindList:
		if x.p == y.p {
			return true, nil
		}
		if depth > maxNest {
			return false, m.errorf("value nested too deeply (or cyclic)")
		}
		a, b := x.list().elems, y.list().elems
		if len(a) != len(b) {
			return false, nil
		}
		for i := range a {
			eq, err := m.equal(a[i], b[i], depth+1)
			if err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case KindDict:
		if x.p == y.p {
			return true, nil
		}
		if depth > maxNest {
			return false, m.errorf("value nested too deeply (or cyclic)")
		}
		a, b := x.dict(), y.dict()
		if len(a.entries) != len(b.entries) {
			return false, nil
		}
		for _, e := range a.entries {
			bv, ok := b.get(e.key)
			if !ok {
				return false, nil
			}
			eq, err := m.equal(e.val, bv, depth+1)
			if err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	}
	return false, nil
}

// compare returns -1, 0, 1 for x <op> y ordering; op is used in messages.
func (m *Machine) compare(op string, x, y Value, depth int) (int, error) {
	if isNumeric(x) && isNumeric(y) {
		if x.k != KindFloat && y.k != KindFloat {
			a, b := int64(x.n), int64(y.n)
			switch {
			case a < b:
				return -1, nil
			case a > b:
				return 1, nil
			}
			return 0, nil
		}
		a, b := numFloat(x), numFloat(y)
		switch {
		case a < b:
			return -1, nil
		case a > b:
			return 1, nil
		case a == b:
			return 0, nil
		}
		return 2, nil // NaN: every ordering is false
	}
	if x.k == KindString && y.k == KindString {
		return strings.Compare(x.str(), y.str()), nil
	}
	if x.k == KindList && y.k == KindList {
		if depth > maxNest {
			return 0, m.errorf("value nested too deeply (or cyclic)")
		}
		a, b := x.list().elems, y.list().elems
		for i := 0; i < len(a) && i < len(b); i++ {
			eq, err := m.equal(a[i], b[i], depth+1)
			if err != nil {
				return 0, err
			}
			if !eq {
				return m.compare(op, a[i], b[i], depth+1)
			}
		}
		switch {
		case len(a) < len(b):
			return -1, nil
		case len(a) > len(b):
			return 1, nil
		}
		return 0, nil
	}
	return 0, m.errorf("'%s' not supported between instances of '%s' and '%s'", op, typeName(x), typeName(y))
}

// contains reports Python's x in y.
func (m *Machine) contains(x, y Value) (bool, error) {
	switch y.k {
	case KindString:
		if x.k != KindString {
			return false, m.errorf("'in <string>' requires string as left operand, not %s", typeName(x))
		}
		return strings.Contains(y.str(), x.str()), nil
	case KindList:
		for _, e := range y.list().elems {
			eq, err := m.equal(x, e, 0)
			if err != nil {
				return false, err
			}
			if eq {
				return true, nil
			}
		}
		return false, nil
	case KindDict:
		k, err := m.dictKey(x)
		if err != nil {
			return false, err
		}
		_, ok := y.dict().get(k)
		return ok, nil
	}
	return false, m.errorf("argument of type '%s' is not iterable", typeName(y))
}

// dictKey converts a subscript to a dict key: strings as they are, other
// scalars by their str() form (JSON keys are always strings).
func (m *Machine) dictKey(k Value) (string, error) {
	switch k.k {
	case KindString:
		return k.str(), nil
	case KindList, KindDict:
		return "", m.errorf("unhashable type: '%s'", typeName(k))
	}
	return m.toStr(k)
}

// ---------------------------------------------------------------------------
// Arithmetic

func (m *Machine) overflow() error { return m.errorf("integer overflow") }

func addInt(a, b int64) (int64, bool) {
	r := a + b
	return r, (r^a)&(r^b) >= 0
}

func subInt(a, b int64) (int64, bool) {
	r := a - b
	return r, (a^b)&(r^a) >= 0
}

func mulInt(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = -ua
	}
	if b < 0 {
		ub = -ub
	}
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 {
		return 0, false
	}
	if neg {
		if lo > 1<<63 {
			return 0, false
		}
		return int64(-lo), true
	}
	if lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

func opSymbol(op byte) string {
	switch op {
	case '+', '-', '*', '/', '%', '&', '|', '^':
		return string(op)
	case 'p':
		return "**"
	case 'l':
		return "<<"
	case 'r':
		return ">>"
	}
	return "?"
}

func (m *Machine) badOperands(op byte, x, y Value) error {
	if op == '+' && x.k == KindString {
		return m.errorf("can only concatenate str (not \"%s\") to str", typeName(y))
	}
	if op == '+' && x.k == KindList {
		return m.errorf("can only concatenate list (not \"%s\") to list", typeName(y))
	}
	return m.errorf("unsupported operand type(s) for %s: '%s' and '%s'", opSymbol(op), typeName(x), typeName(y))
}

// binary evaluates x op y for the arithmetic and bitwise operators.
func (m *Machine) binary(op byte, x, y Value) (Value, error) {
	xi := x.k == KindInt || x.k == KindBool
	yi := y.k == KindInt || y.k == KindBool
	if xi && yi {
		a, b := int64(x.n), int64(y.n)
		switch op {
		case '+':
			if r, ok := addInt(a, b); ok {
				return Int(r), nil
			}
			return None, m.overflow()
		case '-':
			if r, ok := subInt(a, b); ok {
				return Int(r), nil
			}
			return None, m.overflow()
		case '*':
			if r, ok := mulInt(a, b); ok {
				return Int(r), nil
			}
			return None, m.overflow()
		case '/':
			if b == 0 {
				return None, m.errorf("division by zero")
			}
			return Float(float64(a) / float64(b)), nil
		case '%':
			if b == 0 {
				return None, m.errorf("integer modulo by zero")
			}
			if b == -1 {
				return Int(0), nil
			}
			r := a % b
			if r != 0 && (r^b) < 0 {
				r += b
			}
			return Int(r), nil
		case 'p':
			return m.powInt(a, b)
		case '&':
			return Int(a & b), nil
		case '|':
			return Int(a | b), nil
		case '^':
			return Int(a ^ b), nil
		case 'l':
			if b < 0 {
				return None, m.errorf("negative shift count")
			}
			if a == 0 {
				return Int(0), nil
			}
			if b >= 63 || (a<<b)>>b != a {
				return None, m.overflow()
			}
			return Int(a << b), nil
		case 'r':
			if b < 0 {
				return None, m.errorf("negative shift count")
			}
			if b > 63 {
				b = 63
			}
			return Int(a >> b), nil
		}
	}
	if (xi || x.k == KindFloat) && (yi || y.k == KindFloat) {
		a, b := numFloat(x), numFloat(y)
		switch op {
		case '+':
			return Float(a + b), nil
		case '-':
			return Float(a - b), nil
		case '*':
			return Float(a * b), nil
		case '/':
			if b == 0 {
				return None, m.errorf("float division by zero")
			}
			return Float(a / b), nil
		case '%':
			if b == 0 {
				return None, m.errorf("float modulo")
			}
			r := math.Mod(a, b)
			if r != 0 && (r < 0) != (b < 0) {
				r += b
			}
			return Float(r), nil
		case 'p':
			if a == 0 && b < 0 {
				return None, m.errorf("0.0 cannot be raised to a negative power")
			}
			r := math.Pow(a, b)
			if r != r && a < 0 {
				return None, m.errorf("negative number cannot be raised to a fractional power")
			}
			return Float(r), nil
		}
		return None, m.badOperands(op, x, y)
	}
	switch op {
	case '+':
		if x.k == KindString && y.k == KindString {
			return m.concat(x.str(), y.str())
		}
		if x.k == KindList && y.k == KindList {
			a, b := x.list().elems, y.list().elems
			if err := m.chargeList(len(a) + len(b)); err != nil {
				return None, err
			}
			out := make([]Value, 0, len(a)+len(b))
			out = append(append(out, a...), b...)
			return NewList(out), nil
		}
	case '*':
		if x.k == KindString && yi {
			return m.repeatStr(x.str(), int64(y.n))
		}
		if y.k == KindString && xi {
			return m.repeatStr(y.str(), int64(x.n))
		}
		if x.k == KindList && yi {
			return m.repeatList(x.list().elems, int64(y.n))
		}
		if y.k == KindList && xi {
			return m.repeatList(y.list().elems, int64(x.n))
		}
	case '%':
		if x.k == KindString {
			return m.format(x.str(), y)
		}
	}
	return None, m.badOperands(op, x, y)
}

func (m *Machine) powInt(a, b int64) (Value, error) {
	if b < 0 {
		if a == 0 {
			return None, m.errorf("0.0 cannot be raised to a negative power")
		}
		return Float(math.Pow(float64(a), float64(b))), nil
	}
	r := int64(1)
	for b > 0 {
		if b&1 == 1 {
			var ok bool
			if r, ok = mulInt(r, a); !ok {
				return None, m.overflow()
			}
		}
		b >>= 1
		if b > 0 {
			var ok bool
			if a, ok = mulInt(a, a); !ok {
				return None, m.overflow()
			}
		}
	}
	return Int(r), nil
}

func (m *Machine) concat(a, b string) (Value, error) {
	if err := m.charge(int64(len(a)) + int64(len(b)) + 16); err != nil {
		return None, err
	}
	return String(a + b), nil
}

func (m *Machine) repeatStr(s string, n int64) (Value, error) {
	if n <= 0 || s == "" {
		return String(""), nil
	}
	if n > math.MaxInt64/int64(len(s)) {
		return None, m.memErr()
	}
	if err := m.charge(int64(len(s)) * n); err != nil {
		return None, err
	}
	return String(strings.Repeat(s, int(n))), nil
}

func (m *Machine) repeatList(el []Value, n int64) (Value, error) {
	if n <= 0 || len(el) == 0 {
		return NewList(nil), nil
	}
	if n > math.MaxInt32/int64(len(el)) {
		return None, m.memErr()
	}
	total := int(n) * len(el)
	if err := m.chargeList(total); err != nil {
		return None, err
	}
	out := make([]Value, 0, total)
	for i := int64(0); i < n; i++ {
		out = append(out, el...)
	}
	return NewList(out), nil
}

func (m *Machine) unary(op byte, x Value) (Value, error) {
	switch op {
	case '-':
		switch x.k {
		case KindInt, KindBool:
			if int64(x.n) == math.MinInt64 {
				return None, m.overflow()
			}
			return Int(-int64(x.n)), nil
		case KindFloat:
			return Float(-x.f()), nil
		}
	case '+':
		switch x.k {
		case KindInt, KindBool:
			return Int(int64(x.n)), nil
		case KindFloat:
			return x, nil
		}
	case '~':
		if x.k == KindInt || x.k == KindBool {
			return Int(^int64(x.n)), nil
		}
	}
	return None, m.errorf("bad operand type for unary %c: '%s'", op, typeName(x))
}

// ---------------------------------------------------------------------------
// Subscripts

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// strLen returns the number of characters (code points) of s.
func strLen(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return utf8.RuneCountInString(s)
}

func (m *Machine) index(x, i Value) (Value, error) {
	switch x.k {
	case KindList:
		if i.k != KindInt && i.k != KindBool {
			return None, m.errorf("list indices must be integers, not %s", typeName(i))
		}
		el := x.list().elems
		n := int64(i.n)
		if n < 0 {
			n += int64(len(el))
		}
		if n < 0 || n >= int64(len(el)) {
			return None, m.errorf("list index out of range")
		}
		return el[n], nil
	case KindString:
		if i.k != KindInt && i.k != KindBool {
			return None, m.errorf("string indices must be integers, not %s", typeName(i))
		}
		s := x.str()
		n := int64(i.n)
		if isASCII(s) {
			if n < 0 {
				n += int64(len(s))
			}
			if n < 0 || n >= int64(len(s)) {
				return None, m.errorf("string index out of range")
			}
			return String(s[n : n+1]), nil
		}
		rs := []rune(s)
		if n < 0 {
			n += int64(len(rs))
		}
		if n < 0 || n >= int64(len(rs)) {
			return None, m.errorf("string index out of range")
		}
		return String(string(rs[n])), nil
	case KindDict:
		k, err := m.dictKey(i)
		if err != nil {
			return None, err
		}
		v, ok := x.dict().get(k)
		if !ok {
			return None, m.errorf("key %s not found", string(appendPyQuote(nil, k)))
		}
		return v, nil
	}
	return None, m.errorf("'%s' object is not subscriptable", typeName(x))
}

func (m *Machine) attr(x Value, name string) (Value, error) {
	if x.k == KindDict {
		v, ok := x.dict().get(name)
		if !ok {
			return None, m.errorf("key %s not found", string(appendPyQuote(nil, name)))
		}
		return v, nil
	}
	return None, m.errorf("'%s' object has no attribute '%s'", typeName(x), name)
}

// sliceIndices computes Python slice bounds for a sequence of length n.
func (m *Machine) sliceIndices(n int, lo, hi, step Value) (start, stop, st int, err error) {
	st = 1
	if step.k != KindNone {
		if step.k != KindInt && step.k != KindBool {
			return 0, 0, 0, m.errorf("slice indices must be integers or None")
		}
		st = int(int64(step.n))
		if st == 0 {
			return 0, 0, 0, m.errorf("slice step cannot be zero")
		}
	}
	conv := func(v Value, def int) (int, error) {
		if v.k == KindNone {
			return def, nil
		}
		if v.k != KindInt && v.k != KindBool {
			return 0, m.errorf("slice indices must be integers or None")
		}
		i := int64(v.n)
		if i < 0 {
			i += int64(n)
			if i < 0 {
				if st < 0 {
					return -1, nil
				}
				return 0, nil
			}
		}
		if i >= int64(n) {
			if st < 0 {
				return n - 1, nil
			}
			return n, nil
		}
		return int(i), nil
	}
	if st > 0 {
		if start, err = conv(lo, 0); err != nil {
			return
		}
		stop, err = conv(hi, n)
	} else {
		if start, err = conv(lo, n-1); err != nil {
			return
		}
		stop, err = conv(hi, -1)
	}
	return
}

func (m *Machine) slice(x, lo, hi, step Value) (Value, error) {
	switch x.k {
	case KindList, KindString:
	default:
		return None, m.errorf("'%s' object is not subscriptable", typeName(x))
	}
	var rs []rune
	var n int
	ascii := false
	if x.k == KindString {
		if ascii = isASCII(x.str()); ascii {
			n = int(x.n)
		} else {
			rs = []rune(x.str())
			n = len(rs)
		}
	} else {
		n = len(x.list().elems)
	}
	start, stop, st, err := m.sliceIndices(n, lo, hi, step)
	if err != nil {
		return None, err
	}
	count := 0
	if st > 0 && start < stop {
		count = (stop - start + st - 1) / st
	} else if st < 0 && start > stop {
		count = (start - stop - st - 1) / -st
	}
	if x.k == KindList {
		if err := m.chargeList(count); err != nil {
			return None, err
		}
		el := x.list().elems
		out := make([]Value, 0, count)
		for i, j := 0, start; i < count; i, j = i+1, j+st {
			out = append(out, el[j])
		}
		return NewList(out), nil
	}
	if err := m.charge(int64(count) * 4); err != nil {
		return None, err
	}
	if ascii && st == 1 {
		return String(x.str()[start : start+count]), nil
	}
	var b strings.Builder
	s := x.str()
	for i, j := 0, start; i < count; i, j = i+1, j+st {
		if ascii {
			b.WriteByte(s[j])
		} else {
			b.WriteRune(rs[j])
		}
	}
	return String(b.String()), nil
}

// ---------------------------------------------------------------------------
// Built-in functions

func (m *Machine) builtinInt(v Value) (Value, error) {
	switch v.k {
	case KindInt:
		return v, nil
	case KindBool:
		return Int(int64(v.n)), nil
	case KindFloat:
		f := v.f()
		if f != f || math.IsInf(f, 0) {
			return None, m.errorf("cannot convert float %s to integer", formatFloat(f))
		}
		t := math.Trunc(f)
		if t < -9.223372036854775808e18 || t >= 9.223372036854775808e18 {
			return None, m.overflow()
		}
		return Int(int64(t)), nil
	case KindString:
		s := strings.TrimSpace(v.str())
		t := strings.ReplaceAll(s, "_", "")
		if t != "" && t[0] != '_' && !strings.HasSuffix(s, "_") && !strings.Contains(s, "__") {
			if i, err := strconv.ParseInt(t, 10, 64); err == nil {
				return Int(i), nil
			} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return None, m.overflow()
			}
		}
		return None, m.errorf("invalid literal for int() with base 10: %s", string(appendPyQuote(nil, v.str())))
	}
	return None, m.errorf("int() argument must be a string or a number, not '%s'", typeName(v))
}

func (m *Machine) builtinFloat(v Value) (Value, error) {
	switch v.k {
	case KindFloat:
		return v, nil
	case KindInt, KindBool:
		return Float(float64(int64(v.n))), nil
	case KindString:
		s := strings.TrimSpace(v.str())
		if f, ok := parsePyFloat(s); ok {
			return Float(f), nil
		}
		return None, m.errorf("could not convert string to float: %s", string(appendPyQuote(nil, v.str())))
	}
	return None, m.errorf("float() argument must be a string or a number, not '%s'", typeName(v))
}

// parsePyFloat parses the forms Python's float() accepts (decimal,
// exponent, inf, nan), rejecting Go-only forms (hex, underscores).
func parsePyFloat(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	low := strings.ToLower(strings.TrimLeft(s, "+-"))
	switch low {
	case "inf", "infinity", "nan":
	default:
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
				return 0, false
			}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func (m *Machine) builtinLen(v Value) (Value, error) {
	switch v.k {
	case KindString:
		return Int(int64(strLen(v.str()))), nil
	case KindList:
		return Int(int64(len(v.list().elems))), nil
	case KindDict:
		return Int(int64(len(v.dict().entries))), nil
	}
	return None, m.errorf("object of type '%s' has no len()", typeName(v))
}
