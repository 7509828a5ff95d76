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

// ErrInvalidJobID is returned for a job id that is not 1-64 characters of
// [A-Za-z0-9_-].
var ErrInvalidJobID = errors.New("invalid job id")

// ErrJobNotFound is returned for a job (or dead letter) that does not exist
// or whose record expired.
var ErrJobNotFound = errors.New("job not found")

// ErrJobFinished is returned when canceling a job that already ended.
var ErrJobFinished = errors.New("job already finished")

// ErrLockHeld is returned by TryAcquire when another owner holds the lock.
var ErrLockHeld = errors.New("lock held by another owner")

// ErrLockLost is returned by Refresh and Release when the lock expired and
// another owner took it (the key's revision changed).
var ErrLockLost = errors.New("lock lost")

// ErrInvalidKey is returned for an idempotency key or lock name that is
// empty, too long or not printable ASCII.
var ErrInvalidKey = errors.New("invalid key")
