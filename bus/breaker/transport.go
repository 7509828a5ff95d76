package breaker

import (
	"errors"
	"fmt"
	"net/http"
)

// Transport is an http.RoundTripper that guards each destination host with
// its own breaker of Group (named Prefix+host), so one failing remote API
// does not slow every script down while the others keep working.
//
// A transport error or a 5xx answer (by default; see IsFailureStatus)
// counts as a failure; 4xx answers are the caller's problem and count as
// successes. A refused call returns an error wrapping ErrOpen without
// touching the network. Use it as the innermost wrapper of a client's
// transport, e.g. for the scripts' RequestGet/RequestPost client or the job
// callback client:
//
//	client.Transport = &breaker.Transport{Base: tr, Group: g, Prefix: "http:"}
type Transport struct {
	Base   http.RoundTripper // or nil for http.DefaultTransport
	Group  *Group            // breakers by host; nil = no breaking
	Prefix string            // breaker name prefix, e.g. "http:" or "callback:"
	// Options for the per-host breakers; zero = the group's defaults.
	Options *Options
	// IsFailureStatus decides which statuses count as failures; nil = >= 500.
	IsFailureStatus func(status int) bool
}

// errStatus marks a failing status for the breaker; the caller still gets
// the response.
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("status %d", int(e)) }

// RoundTrip sends req through the breaker of its host.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Group == nil {
		return base.RoundTrip(req)
	}
	name := t.Prefix + req.URL.Host
	var b *Breaker
	if t.Options != nil {
		b = t.Group.GetWith(name, *t.Options)
	} else {
		b = t.Group.Get(name)
	}
	done, err := b.Allow()
	if err != nil {
		return nil, err
	}
	resp, err := base.RoundTrip(req)
	switch {
	case err != nil:
		done(err)
	case t.failStatus(resp.StatusCode):
		done(errStatus(resp.StatusCode))
	default:
		done(nil)
	}
	return resp, err
}

func (t *Transport) failStatus(code int) bool {
	if t.IsFailureStatus != nil {
		return t.IsFailureStatus(code)
	}
	return code >= 500
}

// IsOpen reports whether err is a refusal by an open breaker.
func IsOpen(err error) bool { return errors.Is(err, ErrOpen) }
