package vm

import (
	"math"
	"strconv"
	"strings"
)

// format implements Python's printf-style `format % args` for the
// conversions s r d i u f F e E g G x X o c and %; flags - + space 0 #,
// width and precision (numbers or *), and %(key)s with a dict argument.
func (m *Machine) format(f string, args Value) (Value, error) {
	var items []Value
	var mapping *dict
	switch {
	case args.k == KindList && args.list().tuple:
		items = args.list().elems
	case args.k == KindDict:
		mapping = args.dict()
		items = []Value{args}
	default:
		items = []Value{args}
	}
	next := 0
	nextArg := func() (Value, error) {
		if next >= len(items) {
			return None, m.errorf("not enough arguments for format string")
		}
		v := items[next]
		next++
		return v, nil
	}
	var b []byte
	usedMapping := false
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(f) {
			return None, m.errorf("incomplete format")
		}
		var arg Value
		haveArg := false
		if f[i] == '(' {
			if mapping == nil {
				return None, m.errorf("format requires a mapping")
			}
			end := strings.IndexByte(f[i:], ')')
			if end < 0 {
				return None, m.errorf("incomplete format key")
			}
			key := f[i+1 : i+end]
			v, ok := mapping.get(key)
			if !ok {
				return None, m.errorf("key %s not found", string(appendPyQuote(nil, key)))
			}
			arg, haveArg, usedMapping = v, true, true
			i += end + 1
		}
		var minus, plus, space, zero bool
	flags:
		for ; i < len(f); i++ {
			switch f[i] {
			case '-':
				minus = true
			case '+':
				plus = true
			case ' ':
				space = true
			case '0':
				zero = true
			case '#':
			default:
				break flags
			}
		}
		width, prec := -1, -1
		readNum := func() (int, error) {
			if i < len(f) && f[i] == '*' {
				i++
				v, err := nextArg()
				if err != nil {
					return 0, err
				}
				if v.k != KindInt {
					return 0, m.errorf("* wants int")
				}
				return int(min(max(v.i(), -1), 1<<20)), nil
			}
			n := -1
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				if n < 0 {
					n = 0
				}
				n = n*10 + int(f[i]-'0')
				if n > 1<<20 {
					return 0, m.errorf("width too big")
				}
				i++
			}
			return n, nil
		}
		var err error
		if width, err = readNum(); err != nil {
			return None, err
		}
		if i < len(f) && f[i] == '.' {
			i++
			if prec, err = readNum(); err != nil {
				return None, err
			}
			if prec < 0 {
				prec = 0
			}
		}
		for i < len(f) && (f[i] == 'l' || f[i] == 'h' || f[i] == 'L') {
			i++
		}
		if i >= len(f) {
			return None, m.errorf("incomplete format")
		}
		conv := f[i]
		if conv == '%' {
			b = append(b, '%')
			continue
		}
		if !haveArg {
			if arg, err = nextArg(); err != nil {
				return None, err
			}
		}
		var s string
		numeric := false
		switch conv {
		case 's':
			if s, err = m.toStr(arg); err != nil {
				return None, err
			}
			if prec >= 0 {
				if r := []rune(s); len(r) > prec {
					s = string(r[:prec])
				}
			}
		case 'r', 'a':
			rb, err := m.appendRepr(nil, arg, 0)
			if err != nil {
				return None, err
			}
			s = string(rb)
		case 'd', 'i', 'u', 'x', 'X', 'o', 'c':
			if arg.k == KindFloat && conv != 'c' {
				if arg, err = m.builtinInt(arg); err != nil {
					return None, err
				}
			}
			if arg.k != KindInt && arg.k != KindBool {
				return None, m.errorf("%%%c format: a real number is required, not %s", conv, typeName(arg))
			}
			n := int64(arg.n)
			switch conv {
			case 'x':
				s = strconv.FormatInt(n, 16)
			case 'X':
				s = strings.ToUpper(strconv.FormatInt(n, 16))
			case 'o':
				s = strconv.FormatInt(n, 8)
			case 'c':
				if n < 0 || n > 0x10FFFF {
					return None, m.errorf("%%c arg not in range(0x110000)")
				}
				s = string(rune(n))
			default:
				s = strconv.FormatInt(n, 10)
			}
			numeric = conv != 'c'
		case 'f', 'F', 'e', 'E', 'g', 'G':
			if !isNumeric(arg) {
				return None, m.errorf("must be real number, not %s", typeName(arg))
			}
			x := numFloat(arg)
			if prec < 0 {
				prec = 6
			}
			if prec > 100 {
				prec = 100
			}
			switch {
			case math.IsInf(x, 0) || x != x:
				s = formatFloat(x)
			case conv == 'g' || conv == 'G':
				if prec == 0 {
					prec = 1
				}
				s = strconv.FormatFloat(x, 'g', prec, 64)
				if conv == 'G' {
					s = strings.ToUpper(s)
				}
			default:
				s = strconv.FormatFloat(x, conv|0x20, prec, 64)
				if conv == 'F' || conv == 'E' {
					s = strings.ToUpper(s)
				}
			}
			numeric = true
		default:
			return None, m.errorf("unsupported format character '%c' (0x%x)", conv, conv)
		}
		if numeric && !strings.HasPrefix(s, "-") {
			if plus {
				s = "+" + s
			} else if space {
				s = " " + s
			}
		}
		if pad := width - len([]rune(s)); pad > 0 {
			switch {
			case minus:
				s += strings.Repeat(" ", pad)
			case zero && numeric:
				sign := ""
				if s != "" && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
					sign, s = s[:1], s[1:]
				}
				s = sign + strings.Repeat("0", pad) + s
			default:
				s = strings.Repeat(" ", pad) + s
			}
		}
		b = append(b, s...)
		if int64(len(b)) > m.lim.MaxMemoryBytes {
			return None, m.memErr()
		}
	}
	if !usedMapping && next < len(items) && mapping == nil {
		return None, m.errorf("not all arguments converted during string formatting")
	}
	if err := m.charge(int64(len(b)) + 16); err != nil {
		return None, err
	}
	return String(string(b)), nil
}
