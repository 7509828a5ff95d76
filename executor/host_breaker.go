package executor

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/avapmesh/avap/bus/breaker"
)

// Circuit breakers of the outside calls a script or a job makes
// (issue 9). Each destination host has its own breaker in the Group given
// by HostOptions.Breakers (names "http:<host>") or JobOptions.Breakers
// ("callback:<host>"), so one failing remote API fails fast while the
// others keep working; their states show in the group's Stats (health
// component "breakers", /api/v1/info). None of them is critical: one
// remote host being down does not make the process unready.
//
// While a host's breaker is open, RequestGet raises the catchable error
// "circuit open for host X" and RequestPost returns {"error": "circuit
// open for host X"} without touching the network (§12.8 error behaviour).
// A callback to an open host is put back for later (the breaker's open
// period) without counting a delivery attempt.

// ErrCircuitOpen is wrapped by the error of a call refused by an open
// breaker.
var ErrCircuitOpen = breaker.ErrOpen

// circuitOpen is the error of a call to host refused by its open breaker.
func circuitOpen(host string) error {
	return &circuitOpenError{host: host}
}

type circuitOpenError struct{ host string }

func (e *circuitOpenError) Error() string { return "circuit open for host " + e.host }
func (e *circuitOpenError) Unwrap() error { return breaker.ErrOpen }

// egressBreakerOptions are the per-host breaker options of the scripts'
// and callbacks' HTTP clients: refusals by the egress policy and the
// caller's cancellation say nothing about the remote host.
func egressBreakerOptions(o breaker.Options) *breaker.Options {
	if o.IsFailure == nil {
		o.IsFailure = func(err error) bool {
			return !errors.Is(err, ErrEgressDenied) && !errors.Is(err, context.Canceled)
		}
	}
	return &o
}

// guardTransport wraps the egress-checked transport of RequestGet and
// RequestPost in per-host breakers when HostOptions.Breakers is set.
func (h *Host) guardTransport(tr http.RoundTripper) http.RoundTripper {
	if h.opts.Breakers == nil {
		return tr
	}
	return &breaker.Transport{Base: tr, Group: h.opts.Breakers, Prefix: "http:", Options: egressBreakerOptions(h.opts.Breaker)}
}

// guardCallbackTransport wraps the callback client's transport in
// per-host breakers when JobOptions.Breakers is set. Any non-2xx answer
// is a failed delivery, but only 5xx (and 429) answers say the receiver
// is in trouble.
func (r *JobRunner) guardCallbackTransport(tr http.RoundTripper) http.RoundTripper {
	if r.opts.Breakers == nil {
		return tr
	}
	return &breaker.Transport{
		Base: tr, Group: r.opts.Breakers, Prefix: "callback:", Options: egressBreakerOptions(r.opts.CallbackBreaker),
		IsFailureStatus: func(code int) bool { return code >= 500 || code == http.StatusTooManyRequests },
	}
}

// callbackOpenDelay is how long a callback refused by an open breaker
// waits before it is tried again: the breakers' open period.
func (r *JobRunner) callbackOpenDelay() time.Duration {
	if d := r.opts.CallbackBreaker.OpenFor; d > 0 {
		return d
	}
	return breaker.DefaultOpenFor
}

// sqlBreaker is the breaker of SQL connector name ("sql:<name>"), or nil
// (always allows) without HostOptions.Breakers.
func (h *Host) sqlBreaker(name string) *breaker.Breaker {
	if h.opts.Breakers == nil {
		return nil
	}
	o := h.opts.Breaker
	return h.opts.Breakers.GetWith("sql:"+name, o)
}
