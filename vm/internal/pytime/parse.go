package pytime

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Parse parses value according to layout, a Python strptime format string,
// the way datetime.strptime does. A value without a UTC offset (%z) or a
// UTC/GMT zone name (%Z) is interpreted in loc (nil means UTC).
func Parse(value, layout string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	var c compiler
	c.loc = loc
	c.whole = layout
	c.expr.WriteString(`^(?i)`)
	if err := c.compile(layout); err != nil {
		return time.Time{}, err
	}
	re, err := regexp.Compile(c.expr.String())
	if err != nil {
		// Every fragment is quoted or fixed; this would be a bug here.
		return time.Time{}, &pyError{"invalid format '" + layout + "': " + err.Error(), ErrBadDirective}
	}
	m := re.FindStringSubmatchIndex(value)
	if m == nil {
		return time.Time{}, &pyError{"time data " + pyRepr(value) + " does not match format " + pyRepr(layout), ErrNoMatch}
	}
	if m[1] != len(value) {
		return time.Time{}, &pyError{"unconverted data remains: " + value[m[1]:], ErrNoMatch}
	}
	found := make([]match, 0, len(c.dirs))
	for k, d := range c.dirs {
		if lo := m[2*k+2]; lo >= 0 {
			found = append(found, match{d, value[lo:m[2*k+3]]})
		}
	}
	return convert(found, loc)
}

// match is one directive (in canonical form) and the text it matched.
type match struct {
	dir  byte
	text string
}

// compiler turns a layout into a regular expression with one capturing
// group per directive, in the manner of CPython's _strptime.TimeRE.
type compiler struct {
	expr  strings.Builder
	dirs  []byte // canonical directive of each group
	loc   *time.Location
	whole string
	depth int
}

// Directive patterns, transcribed from CPython's Lib/_strptime.py (3.11).
const (
	reDay    = `3[01]|[12]\d|0[1-9]|[1-9]| [1-9]`
	reHour24 = `2[0-3]|[0-1]\d|\d`
	reHour12 = `1[0-2]|0[1-9]|[1-9]`
	reWeek   = `5[0-3]|[0-4]\d|\d`
	reOffset = `[+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z)`
	reSpace  = `[\s\v\x{1c}-\x{1f}\x{85}\p{Z}]+`
)

func (c *compiler) group(dir byte, re string) {
	c.dirs = append(c.dirs, dir)
	c.expr.WriteByte('(')
	c.expr.WriteString(re)
	c.expr.WriteByte(')')
}

func (c *compiler) compile(layout string) error {
	for i := 0; i < len(layout); {
		r, size := utf8.DecodeRuneInString(layout[i:])
		if isPySpace(r) {
			for i < len(layout) {
				r, size = utf8.DecodeRuneInString(layout[i:])
				if !isPySpace(r) {
					break
				}
				i += size
			}
			c.expr.WriteString(reSpace)
			continue
		}
		if r != '%' {
			c.expr.WriteString(regexp.QuoteMeta(layout[i : i+size]))
			i += size
			continue
		}
		start := i
		i++
		if i >= len(layout) {
			return &pyError{"stray % in format '" + c.whole + "'", ErrBadDirective}
		}
		if layout[i] == '-' || layout[i] == '_' {
			i++
		}
		if i < len(layout) && layout[i] == ':' {
			i++
			if i >= len(layout) || layout[i] != 'z' {
				return badDirective(layout[start+1:min(i+1, len(layout))], c.whole)
			}
		}
		if i >= len(layout) {
			return badDirective(layout[start+1:], c.whole)
		}
		d := layout[i]
		i++
		switch d {
		case 'd', 'e':
			c.group('d', reDay)
		case 'f':
			c.group('f', `[0-9]{1,6}`)
		case 'H':
			c.group('H', reHour24)
		case 'k':
			c.group('H', ` ?(?:`+reHour24+`)`)
		case 'I':
			c.group('I', reHour12)
		case 'l':
			c.group('I', ` ?(?:`+reHour12+`)`)
		case 'G':
			c.group('G', `\d\d\d\d`)
		case 'j':
			c.group('j', `36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9]`)
		case 'm':
			c.group('m', `1[0-2]|0[1-9]|[1-9]`)
		case 'M':
			c.group('M', `[0-5]\d|\d`)
		case 'S':
			c.group('S', `6[0-1]|[0-5]\d|\d`)
		case 'U', 'W':
			c.group(d, reWeek)
		case 'w':
			c.group('w', `[0-6]`)
		case 'u':
			c.group('u', `[1-7]`)
		case 'V':
			c.group('V', `5[0-3]|0[1-9]|[1-4]\d|\d`)
		case 'y':
			c.group('y', `\d\d`)
		case 'Y':
			c.group('Y', `\d\d\d\d`)
		case 'z':
			c.group('z', reOffset)
		case 'A':
			c.group('A', namesRE(7, func(k int) string { return time.Weekday(k).String() }))
		case 'a':
			c.group('a', namesRE(7, func(k int) string { return time.Weekday(k).String()[:3] }))
		case 'B':
			c.group('B', namesRE(12, func(k int) string { return time.Month(k + 1).String() }))
		case 'b', 'h':
			c.group('b', namesRE(12, func(k int) string { return time.Month(k + 1).String()[:3] }))
		case 'p', 'P':
			c.group('p', `am|pm`)
		case 'Z':
			names := zoneNames(c.loc)
			c.group('Z', namesRE(len(names), func(k int) string { return names[k] }))
		case 's':
			c.group('s', `[+-]?\d{1,19}`)
		case '%':
			c.expr.WriteByte('%')
		default:
			sub := composite(d)
			if sub == "" || c.depth > 0 {
				return badDirective(layout[start+1:i], c.whole)
			}
			c.depth++
			if err := c.compile(sub); err != nil {
				return err
			}
			c.depth--
		}
	}
	return nil
}

// namesRE returns an alternation of n names, longest first as CPython's
// __seqToRE orders them so that a prefix never wins over a full name.
func namesRE(n int, name func(int) string) string {
	names := make([]string, n)
	for k := range names {
		names[k] = regexp.QuoteMeta(name(k))
	}
	// Stable insertion sort by decreasing length; n is at most 12.
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && len(names[j]) > len(names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return strings.Join(names, "|")
}

// zoneNames returns the zone names %Z accepts: UTC, GMT and the
// abbreviations loc uses this year (standard and daylight).
func zoneNames(loc *time.Location) []string {
	names := []string{"utc", "gmt"}
	y := time.Now().Year()
	for _, m := range []time.Month{time.January, time.July} {
		name, _ := time.Date(y, m, 1, 0, 0, 0, 0, loc).Zone()
		name = strings.ToLower(name)
		if name != "" && !containsString(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isPySpace reports whether Python's \s matches r (str.isspace).
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func nameIndex(s string, n int, name func(int) string) int {
	for k := range n {
		if strings.EqualFold(s, name(k)) {
			return k
		}
	}
	return -1
}

// atoi converts a matched number; the patterns guarantee digits, possibly
// after one space as Python's int() tolerates.
func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func rangeError(msg string) error { return &pyError{msg, ErrRange} }

// convert computes the time from the matched fields, after CPython's
// _strptime._strptime.
func convert(found []match, loc *time.Location) (time.Time, error) {
	year, isoYear, isoWeek, weekOfYear := -1, -1, -1, -1
	julian, hasJulian := 0, false
	month, day := 1, 1
	hour, minute, second, fraction := 0, 0, 0, 0
	weekday := -1 // Python numbering: Monday = 0
	weekStartsMonday := false
	gmtoff, hasOff := 0, false
	zoneName := ""
	unix, hasUnix := int64(0), false
	ampm := ""
	for _, f := range found {
		if f.dir == 'p' {
			ampm = strings.ToLower(f.text)
		}
	}
	for _, f := range found {
		s := f.text
		switch f.dir {
		case 'y':
			year = atoi(s)
			if year <= 68 {
				year += 2000
			} else {
				year += 1900
			}
		case 'Y':
			year = atoi(s)
		case 'G':
			isoYear = atoi(s)
		case 'm':
			month = atoi(s)
		case 'B':
			month = 1 + nameIndex(s, 12, func(k int) string { return time.Month(k + 1).String() })
		case 'b':
			month = 1 + nameIndex(s, 12, func(k int) string { return time.Month(k + 1).String()[:3] })
		case 'd':
			day = atoi(s)
		case 'H':
			hour = atoi(s)
		case 'I':
			hour = atoi(s)
			switch ampm {
			case "", "am":
				if hour == 12 {
					hour = 0
				}
			case "pm":
				if hour != 12 {
					hour += 12
				}
			}
		case 'M':
			minute = atoi(s)
		case 'S':
			second = atoi(s)
		case 'f':
			fraction = atoi(s + strings.Repeat("0", 6-len(s)))
		case 'A':
			weekday = (nameIndex(s, 7, func(k int) string { return time.Weekday(k).String() }) + 6) % 7
		case 'a':
			weekday = (nameIndex(s, 7, func(k int) string { return time.Weekday(k).String()[:3] }) + 6) % 7
		case 'w':
			weekday = (atoi(s) + 6) % 7
		case 'u':
			weekday = atoi(s) - 1
		case 'j':
			julian, hasJulian = atoi(s), true
		case 'U', 'W':
			weekOfYear = atoi(s)
			weekStartsMonday = f.dir == 'W'
		case 'V':
			isoWeek = atoi(s)
		case 'z':
			off, err := parseOffset(s)
			if err != nil {
				return time.Time{}, err
			}
			gmtoff, hasOff = off, true
		case 'Z':
			zoneName = s
		case 's':
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < minUnix || n > maxUnix {
				return time.Time{}, rangeError("timestamp out of range: " + s)
			}
			unix, hasUnix = n, true
		}
	}

	zone := loc
	switch {
	case hasOff && (gmtoff <= -86400 || gmtoff >= 86400):
		// Reported below, in CPython's order.
	case hasOff:
		zone = fixedZone(zoneName, gmtoff)
	case strings.EqualFold(zoneName, "utc"), strings.EqualFold(zoneName, "gmt"):
		zone = time.UTC
	}
	if hasUnix {
		if hasOff && zone == loc {
			return time.Time{}, rangeError("offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not " + timedeltaRepr(gmtoff) + ".")
		}
		return time.Unix(unix, int64(fraction)*1000).In(zone), nil
	}

	// Ambiguities, checked in CPython's order (3.11 wording).
	if year < 0 && isoYear >= 0 {
		if isoWeek < 0 || weekday < 0 {
			return time.Time{}, rangeError("ISO year directive '%G' must be used with the ISO week directive '%V' and a weekday directive ('%A', '%a', '%w', or '%u').")
		}
		if hasJulian {
			return time.Time{}, rangeError("Day of the year directive '%j' is not compatible with ISO year directive '%G'. Use '%Y' instead.")
		}
	} else if weekOfYear < 0 && isoWeek >= 0 {
		if weekday < 0 {
			return time.Time{}, rangeError("ISO week directive '%V' must be used with the ISO year directive '%G' and a weekday directive ('%A', '%a', '%w', or '%u').")
		}
		return time.Time{}, rangeError("ISO week directive '%V' is incompatible with the year directive '%Y'. Use the ISO year '%G' instead.")
	}

	leapYearFix := false
	if year < 0 {
		year = 1900
		if month == 2 && day == 29 {
			year, leapYearFix = 1904, true
		}
	}
	if !hasJulian && weekday >= 0 {
		if weekOfYear >= 0 {
			if err := checkYear(year); err != nil {
				return time.Time{}, err
			}
			julian, hasJulian = julianFromWeek(year, weekOfYear, weekday, weekStartsMonday), true
		} else if isoYear >= 0 && isoWeek >= 0 {
			var err error
			if year, julian, err = julianFromISO(isoYear, isoWeek, weekday+1); err != nil {
				return time.Time{}, err
			}
			hasJulian = true
		}
		if hasJulian && julian <= 0 {
			year--
			julian += 365
			if isLeap(year) {
				julian++
			}
		}
	}
	if err := checkYear(year); err != nil {
		return time.Time{}, err
	}
	if !hasJulian {
		if day > daysIn(month, year) {
			return time.Time{}, rangeError("day is out of range for month")
		}
	} else {
		t := time.Date(year, 1, julian, 0, 0, 0, 0, time.UTC)
		year, month, day = t.Year(), int(t.Month()), t.Day()
		if err := checkYear(year); err != nil {
			return time.Time{}, err
		}
	}
	// CPython builds the timezone, and so checks its range, only now.
	if hasOff && (gmtoff <= -86400 || gmtoff >= 86400) {
		return time.Time{}, rangeError("offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not " + timedeltaRepr(gmtoff) + ".")
	}
	if leapYearFix {
		year = 1900
	}
	if day > daysIn(month, year) {
		return time.Time{}, rangeError("day is out of range for month")
	}
	if second > 59 {
		return time.Time{}, rangeError("second must be in 0..59")
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, fraction*1000, zone), nil
}

// Bounds of %s: the seconds of years 1 through 9999.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

func checkYear(y int) error {
	if y < 1 || y > 9999 {
		return rangeError("year " + strconv.Itoa(y) + " is out of range")
	}
	return nil
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(m, y int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// julianFromWeek is CPython's _calc_julian_from_U_or_W: the day of the year
// (possibly <= 0) of weekday (Monday = 0) in week weekOfYear.
func julianFromWeek(year, weekOfYear, weekday int, weekStartsMonday bool) int {
	first := (int(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
	if !weekStartsMonday {
		first = (first + 1) % 7
		weekday = (weekday + 1) % 7
	}
	week0 := (7 - first) % 7
	if weekOfYear == 0 {
		return 1 + weekday - first
	}
	return 1 + week0 + 7*(weekOfYear-1) + weekday
}

// julianFromISO is CPython's _calc_julian_from_V: the year and day of the
// year of an ISO year, week and weekday (1 = Monday). Like CPython it does
// not reject week 53 of a 52-week year; the day rolls into the next year.
func julianFromISO(isoYear, isoWeek, isoWeekday int) (year, julian int, err error) {
	if err := checkYear(isoYear); err != nil {
		return 0, 0, err
	}
	jan4 := time.Date(isoYear, 1, 4, 0, 0, 0, 0, time.UTC)
	correction := (int(jan4.Weekday())+6)%7 + 1 + 3
	ordinal := isoWeek*7 + isoWeekday - correction
	if ordinal < 1 {
		isoYear--
		if err := checkYear(isoYear); err != nil {
			return 0, 0, err
		}
		ordinal += 365
		if isLeap(isoYear) {
			ordinal++
		}
	}
	return isoYear, ordinal, nil
}

// parseOffset converts a %z match to seconds east of UTC.
func parseOffset(z string) (int, error) {
	if z == "Z" {
		return 0, nil
	}
	orig := z
	if z[3] == ':' {
		z = z[:3] + z[4:]
		if len(z) > 5 {
			if z[5] != ':' {
				return 0, rangeError("Inconsistent use of : in " + orig)
			}
			z = z[:5] + z[6:]
		}
	}
	off := atoi(z[1:3])*3600 + atoi(z[3:5])*60
	if len(z) >= 7 {
		off += atoi(z[5:7])
	}
	if z[0] == '-' {
		off = -off
	}
	return off, nil
}

// fixedZone is the zone CPython attaches for %z: timezone.utc for a zero
// offset without a name, else a fixed offset named by %Z or "UTC±HH:MM".
func fixedZone(name string, off int) *time.Location {
	if name == "" {
		if off == 0 {
			return time.UTC
		}
		name = string(appendZoneName(nil, off))
	}
	return time.FixedZone(name, off)
}

// timedeltaRepr is repr(datetime.timedelta(seconds=s)).
func timedeltaRepr(s int) string {
	days := floorDiv(s, 86400)
	s -= days * 86400
	var parts []string
	if days != 0 {
		parts = append(parts, "days="+strconv.Itoa(days))
	}
	if s != 0 {
		parts = append(parts, "seconds="+strconv.Itoa(s))
	}
	return "datetime.timedelta(" + strings.Join(parts, ", ") + ")"
}
