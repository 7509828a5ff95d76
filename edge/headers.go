package edge

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// Security headers. frontMiddleware (middleware.go) sets on every answer
// X-Content-Type-Options: nosniff, X-Frame-Options: DENY, Referrer-Policy:
// no-referrer and Content-Security-Policy: default-src 'none';
// frame-ancestors 'none'. This file adds Strict-Transport-Security when the
// listener speaks TLS (the guard sets it) and CORS when configured.

// corsMiddleware returns Fiber's CORS middleware for o, or nil when off.
// It runs before the guard, so preflight requests (OPTIONS) are answered
// without a key; the real request then needs one as usual.
func corsMiddleware(o CORSOptions) fiber.Handler {
	if !o.Enabled {
		return nil
	}
	orDefault := func(v []string, def string) string {
		if len(v) == 0 {
			return def
		}
		return strings.Join(v, ",")
	}
	return cors.New(cors.Config{
		AllowOrigins: strings.Join(o.AllowOrigins, ","),
		AllowMethods: orDefault(o.AllowMethods, "GET,POST,DELETE,OPTIONS"),
		AllowHeaders: orDefault(o.AllowHeaders, strings.Join([]string{
			fiber.HeaderContentType, fiber.HeaderAuthorization, HeaderAPIKey, HeaderRequestID,
			"Idempotency-Key", HeaderTimestamp, HeaderNonce, HeaderSignature, HeaderSession,
		}, ",")),
		ExposeHeaders: orDefault(o.ExposeHeaders, strings.Join([]string{
			HeaderRequestID, fiber.HeaderRetryAfter, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
			HeaderSession, HeaderExecutor,
		}, ",")),
		AllowCredentials: o.AllowCredentials,
		MaxAge:           int(o.MaxAge.Seconds()),
	})
}

func hstsValue(o ProtectOptions) []byte {
	return []byte("max-age=" + strconv.FormatInt(int64(o.HSTSMaxAge.Seconds()), 10) + "; includeSubDomains")
}

// tlsListener wraps ln in TLS when the options name a certificate.
func tlsListener(ln net.Listener, o ProtectOptions) (net.Listener, error) {
	if o.TLSCertFile == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("edge tls: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}), nil
}
