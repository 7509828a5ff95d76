package pytime

import "errors"

// ErrBadDirective is wrapped by errors for an unknown or incomplete
// directive in a layout.
var ErrBadDirective = errors.New("bad directive")

// ErrNoMatch is wrapped by Parse errors for a value that does not match its
// layout, or that leaves unconverted data.
var ErrNoMatch = errors.New("time data does not match format")

// ErrRange is wrapped by Parse errors for a value that matches its layout but
// names no valid date or time (February 30, second 61, ISO week 53 of a
// 52-week year).
var ErrRange = errors.New("date out of range")

// pyError carries CPython's message text and a sentinel for errors.Is.
type pyError struct {
	msg  string
	kind error
}

func (e *pyError) Error() string { return e.msg }
func (e *pyError) Unwrap() error { return e.kind }
