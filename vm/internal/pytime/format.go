package pytime

import (
	"strconv"
	"time"
)

// Format returns t formatted according to layout, a Python strftime format
// string. See the package documentation for the directives.
func Format(t time.Time, layout string) (string, error) {
	b, err := AppendFormat(make([]byte, 0, len(layout)+16), t, layout)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendFormat is like [Format] but appends the text to b.
func AppendFormat(b []byte, t time.Time, layout string) ([]byte, error) {
	f := fields{t: t}
	f.year, f.month, f.day = t.Date()
	f.hour, f.min, f.sec = t.Clock()
	return f.append(b, layout, layout)
}

// fields caches the broken-down time while formatting.
type fields struct {
	t              time.Time
	year, day      int
	month          time.Month
	hour, min, sec int
}

// pad modes for numbers.
const (
	padZero = iota
	padSpace
	padNone
)

func (f *fields) append(b []byte, layout, whole string) ([]byte, error) {
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		start := i
		i++
		if i >= len(layout) {
			return nil, &pyError{"stray % in format '" + whole + "'", ErrBadDirective}
		}
		pad, explicit := padZero, false
		switch layout[i] {
		case '-':
			pad, explicit = padNone, true
			i++
		case '_':
			pad, explicit = padSpace, true
			i++
		}
		colon := false
		if i < len(layout) && layout[i] == ':' {
			colon = true
			i++
		}
		if i >= len(layout) || (colon && layout[i] != 'z') {
			end := min(i+1, len(layout))
			return nil, badDirective(layout[start+1:end], whole)
		}
		c = layout[i]
		// num appends v with the given default width and padding, unless a
		// flag overrides the padding.
		num := func(v, width, def int) {
			if !explicit {
				pad = def
			}
			b = appendInt(b, v, width, pad)
		}
		switch c {
		case 'a':
			b = append(b, f.t.Weekday().String()[:3]...)
		case 'A':
			b = append(b, f.t.Weekday().String()...)
		case 'b', 'h':
			b = append(b, f.month.String()[:3]...)
		case 'B':
			b = append(b, f.month.String()...)
		case 'w':
			num(int(f.t.Weekday()), 1, padZero)
		case 'u':
			wd := int(f.t.Weekday())
			if wd == 0 {
				wd = 7
			}
			num(wd, 1, padZero)
		case 'd':
			num(f.day, 2, padZero)
		case 'e':
			num(f.day, 2, padSpace)
		case 'j':
			num(f.t.YearDay(), 3, padZero)
		case 'm':
			num(int(f.month), 2, padZero)
		case 'y':
			num(mod(f.year, 100), 2, padZero)
		case 'Y':
			num(f.year, 4, padZero)
		case 'C':
			num(floorDiv(f.year, 100), 2, padZero)
		case 'G':
			y, _ := f.t.ISOWeek()
			num(y, 4, padZero)
		case 'g':
			y, _ := f.t.ISOWeek()
			num(mod(y, 100), 2, padZero)
		case 'V':
			_, w := f.t.ISOWeek()
			num(w, 2, padZero)
		case 'U':
			num((f.t.YearDay()-1+7-int(f.t.Weekday()))/7, 2, padZero)
		case 'W':
			num((f.t.YearDay()-1+7-(int(f.t.Weekday())+6)%7)/7, 2, padZero)
		case 'H':
			num(f.hour, 2, padZero)
		case 'k':
			num(f.hour, 2, padSpace)
		case 'I':
			num(hour12(f.hour), 2, padZero)
		case 'l':
			num(hour12(f.hour), 2, padSpace)
		case 'p':
			if f.hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'P':
			if f.hour < 12 {
				b = append(b, "am"...)
			} else {
				b = append(b, "pm"...)
			}
		case 'M':
			num(f.min, 2, padZero)
		case 'S':
			num(f.sec, 2, padZero)
		case 'f':
			num(f.t.Nanosecond()/1000, 6, padZero)
		case 's':
			b = strconv.AppendInt(b, f.t.Unix(), 10)
		case 'z':
			_, off := f.t.Zone()
			b = appendOffset(b, off, colon)
		case 'Z':
			name, off := f.t.Zone()
			if name == "" {
				b = appendZoneName(b, off)
			} else {
				b = append(b, name...)
			}
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '%':
			b = append(b, '%')
		default:
			sub := composite(c)
			if sub == "" {
				return nil, badDirective(layout[start+1:i+1], whole)
			}
			var err error
			if b, err = f.append(b, sub, whole); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

func badDirective(d, layout string) error {
	return &pyError{"'" + d + "' is a bad directive in format '" + layout + "'", ErrBadDirective}
}

func hour12(h int) int {
	if h%12 == 0 {
		return 12
	}
	return h % 12
}

func mod(a, m int) int {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

func floorDiv(a, m int) int {
	q := a / m
	if a%m < 0 {
		q--
	}
	return q
}

// appendInt appends v padded to width with zeros or spaces, or unpadded.
func appendInt(b []byte, v, width, pad int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
		width--
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	if pad != padNone {
		c := byte('0')
		if pad == padSpace {
			c = ' '
		}
		for n := len(s); n < width; n++ {
			b = append(b, c)
		}
	}
	return append(b, s...)
}

// appendOffset appends a UTC offset as Python prints it: +HHMM, with SS
// appended when the offset has seconds; colon selects +HH:MM[:SS].
func appendOffset(b []byte, off int, colon bool) []byte {
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	b = append(b, sign)
	b = appendInt(b, off/3600, 2, padZero)
	if colon {
		b = append(b, ':')
	}
	b = appendInt(b, off/60%60, 2, padZero)
	if off%60 != 0 {
		if colon {
			b = append(b, ':')
		}
		b = appendInt(b, off%60, 2, padZero)
	}
	return b
}

// appendZoneName appends the name Python gives an unnamed fixed offset:
// "UTC" for zero, else "UTC+HH:MM" (":SS" when needed).
func appendZoneName(b []byte, off int) []byte {
	b = append(b, "UTC"...)
	if off != 0 {
		b = appendOffset(b, off, true)
	}
	return b
}
