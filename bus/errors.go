package bus

import "errors"

// ErrInvalidToken is returned by subject constructors for a token that
// cannot appear in a subject.
var ErrInvalidToken = errors.New("invalid subject token")

// ErrMalformed is returned when an envelope is not valid msgpack of the
// expected shape.
var ErrMalformed = errors.New("malformed envelope")

// ErrUnsupportedVersion is returned for an envelope whose major version this
// build does not understand.
var ErrUnsupportedVersion = errors.New("unsupported envelope version")
