package bus

import (
	"strconv"
	"time"
)

// NATS message headers of the mesh. The envelope carries the same facts
// (ID, deadline); the headers make them visible to tools such as
// `nats sub` and to tracing middleware without decoding msgpack. Execution
// requests (Call, CallWait) carry only HeaderTraceparent, and only when
// the context has one: headers cost every hop of the hot path a map to
// build, encode, parse and decode, for facts the envelope already has.
const (
	// HeaderRequestID carries the request id (also echoed as X-Request-ID
	// by the edge).
	HeaderRequestID = "Avap-Request-Id"
	// HeaderTraceparent carries the W3C trace context.
	HeaderTraceparent = "traceparent"
	// HeaderDeadline carries the caller's deadline as Unix nanoseconds in
	// decimal.
	HeaderDeadline = "Avap-Deadline"
	// HeaderCode carries the wire error code of a failed reply, e.g.
	// "AVAP_OVERLOADED" (micro also sets Nats-Service-Error-Code with the
	// numeric code).
	HeaderCode = "Avap-Code"
)

// FormatDeadline encodes t for HeaderDeadline.
func FormatDeadline(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// ParseDeadline decodes a HeaderDeadline value; ok is false when it is
// absent or invalid.
func ParseDeadline(v string) (t time.Time, ok bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}
