package edge

import (
	"errors"
	"log/slog"
	"strings"
	"time"
	"unsafe"

	"github.com/gofiber/fiber/v2"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// maxRequestIDLen bounds a client-supplied request id; longer or unsafe ids
// are replaced by a generated one.
const maxRequestIDLen = 128

type localKey int

const (
	keyRequestID localKey = iota
)

// RequestID returns the id of the request c, as set by the request id
// middleware; "" outside it.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(keyRequestID).(string)
	return id
}

// Logger returns a logger that carries the request's request_id (and
// trace_id when the request is traced); the
// server logger outside the middleware. It is built on each call (the
// middleware does not make one per request: most requests never log), so
// a handler that logs several lines should keep it.
func (s *Server) Logger(c *fiber.Ctx) *slog.Logger {
	if id := RequestID(c); id != "" {
		if tid := TraceID(c); tid != "" { // traced request (observe.go)
			return s.log.With("request_id", id, "trace_id", tid)
		}
		return s.log.With("request_id", id)
	}
	return s.log
}

// validRequestID accepts ids a client may choose: 1..128 characters of
// [A-Za-z0-9._:-], so ids can be logged and echoed without escaping.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// Response headers set on every answer, pre-canonicalized so fasthttp
// does not normalize them per request.
var (
	hdrRequestID   = []byte(HeaderRequestID)
	securityHeader = [...][2][]byte{
		{[]byte("X-Content-Type-Options"), []byte("nosniff")},
		{[]byte("X-Frame-Options"), []byte("DENY")},
		{[]byte("Referrer-Policy"), []byte("no-referrer")},
		{[]byte("Content-Security-Policy"), []byte("default-src 'none'; frame-ancestors 'none'")},
		{[]byte("Cache-Control"), []byte("no-store")},
	}
)

// frontMiddleware is the one middleware in front of every route. It does,
// in this order, what used to be four chained middlewares (each chained
// Fiber middleware costs a route match per request):
//
//   - request id: X-Request-ID from the client when it is sane, generated
//     otherwise; echoed, and stored for RequestID and Logger;
//   - security headers that make API responses inert in a browser;
//   - body limit: 413 for bodies above the limit (fasthttp already refuses
//     a declared Content-Length above it; this also covers chunked bodies
//     and keeps the JSON envelope and request id);
//   - access log: one line per request after it completed, at info when
//     access logging is on, and always at warn for 5xx.
func (s *Server) frontMiddleware(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(HeaderRequestID)
	if validRequestID(id) {
		id = strings.Clone(id) // fasthttp reuses the header buffer
	} else {
		id = s.ids.next()
	}
	c.Locals(keyRequestID, id)
	h := &c.Response().Header
	h.SetCanonical(hdrRequestID, unsafe.Slice(unsafe.StringData(id), len(id))) // copied by fasthttp
	for i := range securityHeader {
		h.SetCanonical(securityHeader[i][0], securityHeader[i][1])
	}
	var err error
	if n := c.Request().Header.ContentLength(); n > s.opts.BodyLimit || len(c.Body()) > s.opts.BodyLimit {
		err = fiber.ErrRequestEntityTooLarge
	} else {
		err = s.observeNext(c, start) // c.Next() plus metrics and span (observe.go)
	}
	s.accessLog(c, id, start, err)
	return err
}

// accessLog logs the finished request c (see frontMiddleware).
func (s *Server) accessLog(c *fiber.Ctx, id string, start time.Time, err error) {
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler runs after the chain; predict its status.
		status = fiber.StatusInternalServerError
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		}
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	} else if !s.opts.AccessLog {
		return
	}
	if !s.access.Enabled(c.Context(), level) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("request_id", id), // generated, or a client id that passed validRequestID
		slog.String("method", sanitizeMethod(c.Method())),
		slog.String("path", RedactString(c.Path(), s.opts.Protect.RedactFields)),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int("bytes_in", len(c.Request().Body())),
		slog.Int("bytes_out", len(c.Response().Body())),
		slog.String("remote", c.IP()),
		slog.String("trace_id", TraceID(c)), // last: dropped when not traced
	}
	n := len(attrs)
	if attrs[n-1].Value.String() == "" {
		n--
	}
	// The record goes to the handler directly: Logger.LogAttrs would also
	// capture the caller's program counter (runtime.Callers, ~1 % of a
	// trivial request's CPU), which no access line prints.
	r := slog.NewRecord(time.Now(), level, "request", 0)
	r.AddAttrs(attrs[:n]...)
	_ = s.access.Handler().Handle(c.Context(), r)
}

// handleError turns any error from the chain into the JSON error envelope.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status := fiber.StatusInternalServerError
	msg := "internal error"
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status, msg = fe.Code, fe.Message
	} else {
		s.Logger(c).Error("handler failed", "err", err, "path", c.Path())
	}
	id := RequestID(c)
	if id == "" {
		// Errors raised before the middleware ran (fasthttp body limit).
		id = s.ids.next()
		c.Set(HeaderRequestID, id)
	}
	return c.Status(status).JSON(errorEnvelope{
		Success:   false,
		Error:     msg,
		Code:      codeForStatus(status),
		RequestID: id,
		TraceID:   TraceID(c),
	})
}

// errorEnvelope is the JSON error body (DESIGN.md "HTTP API").
type errorEnvelope struct {
	Success   bool   `json:"success"`
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	TraceID   string `json:"trace_id,omitempty"` // when the request is traced
}

// codeForStatus names transport-level errors; script errors carry their
// own codes from bus.
func codeForStatus(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "AVAP_BAD_REQUEST"
	case fiber.StatusNotFound:
		return "AVAP_NOT_FOUND"
	case fiber.StatusMethodNotAllowed:
		return "AVAP_METHOD_NOT_ALLOWED"
	case fiber.StatusRequestEntityTooLarge:
		return "AVAP_TOO_LARGE"
	case fiber.StatusUnsupportedMediaType:
		return "AVAP_UNSUPPORTED_MEDIA_TYPE"
	case fiber.StatusServiceUnavailable:
		return "AVAP_UNAVAILABLE"
	case fiber.StatusRequestTimeout:
		return "AVAP_TIMEOUT"
	default:
		return "AVAP_INTERNAL"
	}
}
