package edge

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nuid"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// maxRequestIDLen bounds a client-supplied request id; longer or unsafe ids
// are replaced by a generated one.
const maxRequestIDLen = 128

type localKey int

const (
	keyRequestID localKey = iota
	keyLogger
)

// RequestID returns the id of the request c, as set by the request id
// middleware; "" outside it.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(keyRequestID).(string)
	return id
}

// Logger returns the request's logger, which carries its request_id; the
// server logger outside the middleware.
func (s *Server) Logger(c *fiber.Ctx) *slog.Logger {
	if l, ok := c.Locals(keyLogger).(*slog.Logger); ok {
		return l
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

// requestIDMiddleware takes X-Request-ID from the client when it is sane,
// generates one otherwise, echoes it, and stores it with a request logger.
func (s *Server) requestIDMiddleware(c *fiber.Ctx) error {
	id := c.Get(HeaderRequestID)
	if validRequestID(id) {
		id = strings.Clone(id) // fasthttp reuses the header buffer
	} else {
		id = nuid.Next()
	}
	c.Locals(keyRequestID, id)
	c.Locals(keyLogger, s.log.With("request_id", id))
	c.Set(HeaderRequestID, id)
	return c.Next()
}

// accessLogMiddleware logs one line per request after it completed: at info
// when access logging is on, and always at warn for 5xx.
func (s *Server) accessLogMiddleware(c *fiber.Ctx) error {
	start := time.Now()
	err := s.observeNext(c, start) // c.Next() plus metrics and span (observe.go)
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
		return err
	}
	log := s.Logger(c)
	if !log.Enabled(c.Context(), level) {
		return err
	}
	log.LogAttrs(c.Context(), level, "request",
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int("bytes_in", len(c.Request().Body())),
		slog.Int("bytes_out", len(c.Response().Body())),
		slog.String("remote", c.IP()),
	)
	return err
}

// securityHeadersMiddleware sets headers that make API responses inert in
// a browser.
func securityHeadersMiddleware(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	return c.Next()
}

// bodyLimitMiddleware refuses bodies above the limit with 413. fasthttp
// already refuses a declared Content-Length above it; this also covers
// chunked bodies and keeps the JSON envelope and request id.
func (s *Server) bodyLimitMiddleware(c *fiber.Ctx) error {
	if n := c.Request().Header.ContentLength(); n > s.opts.BodyLimit || len(c.Body()) > s.opts.BodyLimit {
		return fiber.ErrRequestEntityTooLarge
	}
	return c.Next()
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
		id = nuid.Next()
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
