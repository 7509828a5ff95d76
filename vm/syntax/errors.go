package syntax

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// String returns "line:col", or "-" for an unknown position.
func (p Pos) String() string {
	if !p.IsValid() {
		return "-"
	}
	return fmt.Sprintf("%d:%d", p.Line, p.Col)
}

// Error is one syntax error: where it is and what is wrong.
type Error struct {
	Filename string // file name as given to Parse; may be ""
	Pos      Pos
	Msg      string // lowercase, no trailing period
}

// Error returns "name:line:col: msg" (parts that are unknown are left out).
func (e *Error) Error() string {
	var b strings.Builder
	if e.Filename != "" {
		b.WriteString(e.Filename)
		b.WriteByte(':')
	}
	if e.Pos.IsValid() {
		fmt.Fprintf(&b, "%d:%d:", e.Pos.Line, e.Pos.Col)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is a list of syntax errors. Parse returns all the errors it
// found as an ErrorList sorted by position. The zero value is an empty list
// ready to use.
type ErrorList []*Error

// Add appends an error.
func (p *ErrorList) Add(filename string, pos Pos, msg string) {
	*p = append(*p, &Error{Filename: filename, Pos: pos, Msg: msg})
}

// Reset empties the list.
func (p *ErrorList) Reset() { *p = (*p)[:0] }

// Len, Swap and Less implement sort.Interface.
func (p ErrorList) Len() int           { return len(p) }
func (p ErrorList) Swap(i, j int)      { p[i], p[j] = p[j], p[i] }
func (p ErrorList) Less(i, j int) bool { return compareErrors(p[i], p[j]) < 0 }

func compareErrors(a, b *Error) int {
	if c := cmp.Compare(a.Filename, b.Filename); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Pos.Line, b.Pos.Line); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Pos.Col, b.Pos.Col); c != 0 {
		return c
	}
	return cmp.Compare(a.Msg, b.Msg)
}

// Sort sorts the list by file name, line, column and message.
func (p ErrorList) Sort() { slices.SortStableFunc(p, compareErrors) }

// RemoveMultiples sorts the list and keeps only the first error of each
// line.
func (p *ErrorList) RemoveMultiples() {
	p.Sort()
	var last Error
	out := (*p)[:0]
	for _, e := range *p {
		if e.Filename != last.Filename || e.Pos.Line != last.Pos.Line {
			last = *e
			out = append(out, e)
		}
	}
	clear((*p)[len(out):])
	*p = out
}

// Error returns one "name:line:col: msg" line per error.
func (p ErrorList) Error() string {
	switch len(p) {
	case 0:
		return "no errors"
	case 1:
		return p[0].Error()
	}
	var b strings.Builder
	for i, e := range p {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns nil for an empty list and the list itself otherwise.
func (p ErrorList) Err() error {
	if len(p) == 0 {
		return nil
	}
	return p
}

// Unwrap returns the errors of the list, so that errors.As finds an *Error.
func (p ErrorList) Unwrap() []error {
	errs := make([]error, len(p))
	for i, e := range p {
		errs[i] = e
	}
	return errs
}
