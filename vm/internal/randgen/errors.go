package randgen

import "errors"

// ErrLength is returned for a length below zero or above MaxLength.
var ErrLength = errors.New("length out of range")

// ErrPattern is wrapped, together with the regexp/syntax error, for a
// pattern that does not parse.
var ErrPattern = errors.New("invalid pattern")

// ErrEmptyClass is returned for a pattern that no string matches, such as a
// character class with no printable member ([^\x00-\x{10FFFF}], [^ -~]).
var ErrEmptyClass = errors.New("pattern matches no characters")

// ErrEmptyMatch is returned for a pattern that only matches the empty string
// (such as "", "^$" or "a{0}"), from which no characters can be generated.
var ErrEmptyMatch = errors.New("pattern matches only the empty string")

// ErrTooComplex is returned when generation exceeds its work budget, which
// happens only for patterns that mostly produce empty matches.
var ErrTooComplex = errors.New("pattern too complex")
