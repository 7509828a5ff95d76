package pytime

// composite returns the C-locale expansion of a composite directive, or "".
func composite(c byte) string {
	switch c {
	case 'c':
		return "%a %b %e %H:%M:%S %Y"
	case 'x', 'D':
		return "%m/%d/%y"
	case 'X', 'T':
		return "%H:%M:%S"
	case 'F':
		return "%Y-%m-%d"
	case 'R':
		return "%H:%M"
	case 'r':
		return "%I:%M:%S %p"
	}
	return ""
}

// pyRepr quotes s the way Python's repr(str) does, for error messages.
func pyRepr(s string) string {
	quote := byte('\'')
	if containsByte(s, '\'') && !containsByte(s, '"') {
		quote = '"'
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b = append(b, `\\`...)
		case r == rune(quote):
			b = append(b, '\\', quote)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == 0xFFFD:
			b = append(b, `\ufffd`...)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'x', hex[r>>4], hex[r&15])
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, quote))
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
