package registry

import (
	"errors"
	"fmt"
)

// Sentinel errors. Verification failures wrap ErrVerify so callers can
// tell a refused package from an unavailable one with errors.Is.
var (
	// ErrVerify is wrapped by every package verification failure.
	ErrVerify = errors.New("package verification failed")
	// ErrUnsigned means a package carries no signature.
	ErrUnsigned = errors.New("package is unsigned")
	// ErrMalformed means a signed package or key cannot be decoded.
	ErrMalformed = errors.New("malformed package")
	// ErrHashMismatch means a package's content does not match its hash.
	ErrHashMismatch = errors.New("package content hash mismatch")
	// ErrIncompatible means a package needs another bytecode format than this VM's.
	ErrIncompatible = errors.New("package bytecode incompatible with this VM")
	// ErrNotFound means no package (or no version matching a range) exists.
	ErrNotFound = errors.New("package not found")
	// ErrRevoked means the package version was revoked and must not run.
	ErrRevoked = errors.New("package revoked")
	// ErrExists means name@version was already published with other content.
	ErrExists = errors.New("package version already published with different content")
	// ErrInvalid means a request or package field is invalid.
	ErrInvalid = errors.New("invalid package")
	// ErrMalformedKey means a key string cannot be parsed.
	ErrMalformedKey = errors.New("malformed key")
	// ErrUnavailable means no tier could answer (registry down and nothing cached).
	ErrUnavailable = errors.New("registry unavailable")
)

// UnknownVerifierError says a package was signed by a key that is not trusted.
type UnknownVerifierError struct {
	Name    string
	KeyHash uint32
}

func (e *UnknownVerifierError) Error() string {
	return fmt.Sprintf("signed by unknown key %s+%08x", e.Name, e.KeyHash)
}

// Unwrap makes errors.Is(err, ErrVerify) true.
func (e *UnknownVerifierError) Unwrap() error { return ErrVerify }

// InvalidSignatureError says a signature by a trusted key does not verify:
// the package was tampered with.
type InvalidSignatureError struct {
	Name    string
	KeyHash uint32
}

func (e *InvalidSignatureError) Error() string {
	return fmt.Sprintf("invalid signature by key %s+%08x (package tampered with)", e.Name, e.KeyHash)
}

// Unwrap makes errors.Is(err, ErrVerify) true.
func (e *InvalidSignatureError) Unwrap() error { return ErrVerify }
