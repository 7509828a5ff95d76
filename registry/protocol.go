package registry

import (
	"errors"
	"fmt"
	"strconv"
)

// Requests and replies of the registry service (JSON bodies; errors use
// the micro error headers with the codes below).

// PublishRequest publishes a signed envelope, or (Script set) asks the
// registry to build and sign a script with its own key
// (/api/v1/compile).
type PublishRequest struct {
	Envelope []byte         `json:"envelope,omitempty"`
	Script   *ScriptRequest `json:"script,omitempty"`
}

// ScriptRequest is a script to build, sign and publish server-side.
type ScriptRequest struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // "" = next patch after the latest
	Source  []byte `json:"source"`
	Kind    string `json:"kind,omitempty"` // "" = script
}

// GetRequest names a version (Name+Version) or a content hash.
type GetRequest struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Hash    string `json:"hash,omitempty"`
}

// ListRequest lists the versions of Name ("" = all).
type ListRequest struct {
	Name string `json:"name,omitempty"`
}

// SyncRequest asks for the entries changed after revision Since.
type SyncRequest struct {
	Since int64 `json:"since"`
}

// ListReply answers list and sync.
type ListReply struct {
	Entries  []Entry `json:"entries"`
	Revision int64   `json:"revision"`
}

// StatusRequest deprecates, revokes or reactivates a version.
type StatusRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Reason  string `json:"reason,omitempty"`
}

// Error codes of the registry service (micro Nats-Service-Error-Code).
const (
	codeInvalid  = 400
	codeVerify   = 403
	codeNotFound = 404
	codeExists   = 409
	codeInternal = 500
)

func errorCode(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return codeNotFound
	case errors.Is(err, ErrExists):
		return codeExists
	case errors.Is(err, ErrVerify), errors.Is(err, ErrIncompatible):
		return codeVerify
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrMalformed):
		return codeInvalid
	}
	var se interface{ Unwrap() []error }
	if errors.As(err, &se) { // compile errors (syntax.ErrorList) are joined
		return codeInvalid
	}
	return codeInternal
}

// remoteError rebuilds a service error on the client side.
func remoteError(code, desc string) error {
	n, _ := strconv.Atoi(code)
	var base error
	switch n {
	case codeNotFound:
		base = ErrNotFound
	case codeExists:
		base = ErrExists
	case codeVerify:
		base = ErrVerify
	case codeInvalid:
		base = ErrInvalid
	default:
		return fmt.Errorf("registry: %s", desc)
	}
	return &serviceError{base: base, desc: desc}
}

type serviceError struct {
	base error
	desc string
}

func (e *serviceError) Error() string { return "registry: " + e.desc }
func (e *serviceError) Unwrap() error { return e.base }
