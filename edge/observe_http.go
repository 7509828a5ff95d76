package edge

import (
	"context"
	"crypto/subtle"
	"runtime"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths of the telemetry endpoints.
const (
	MetricsPath    = "/metrics"        // Prometheus text exposition
	APIMetricsPath = "/api/v1/metrics" // same, under the API prefix
	DebugPrefix    = "/debug"          // admin-only diagnostics (pprof, vars)
	DebugVarsPath  = "/debug/vars"     // JSON: runtime stats plus every Options.Debug entry
)

// DebugFunc returns one section of /debug/vars (executor pool state, cache
// summary...). It must be cheap and must not return secrets.
type DebugFunc func(ctx context.Context) any

// mountTelemetry installs /metrics and /api/v1/metrics when Options.Gatherer
// is set, and the admin debug endpoints.
func (s *Server) mountTelemetry(app *fiber.App) {
	if g := s.opts.Gatherer; g != nil {
		h := adaptor.HTTPHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{
			ErrorHandling:       promhttp.ContinueOnError,
			MaxRequestsInFlight: 4,
			// No Timeout: promhttp would wrap the handler in
			// http.TimeoutHandler, deriving a context from fasthttp's
			// RequestCtx, whose Done races with Server.Shutdown (fasthttp
			// v1.51). The edge's write timeout bounds a scrape instead.
		}))
		app.Get(MetricsPath, h)
		app.Get(APIMetricsPath, h)
	}
	if s.opts.AdminToken != "" || len(s.opts.Debug) > 0 {
		app.Get(DebugVarsPath, s.adminOnly, s.handleDebugVars)
	}
}

// adminOnly lets a request through when it carries the admin token
// (Authorization: Bearer <token>). Without a configured token the debug
// endpoints answer only loopback clients.
func (s *Server) adminOnly(c *fiber.Ctx) error {
	tok := s.opts.AdminToken
	if p := s.adminToken.Load(); p != nil {
		tok = *p
	}
	if tok == "" {
		if isLoopback(c.IP()) {
			return c.Next()
		}
		return fiber.NewError(fiber.StatusForbidden, "debug endpoints need debug.admin_token (or a loopback client)")
	}
	got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
		return fiber.NewError(fiber.StatusUnauthorized, "admin token required")
	}
	return c.Next()
}

// SetAdminToken replaces the admin token (config reload): requests from
// now on need the new token and the old one is refused; "" = loopback
// clients only. Safe for concurrent use with serving. /debug/vars stays
// unmounted when the server started with neither a token nor Debug
// sections.
func (s *Server) SetAdminToken(tok string) { s.adminToken.Store(&tok) }

// adminPrefix guards every path under DebugPrefix (pprof is a middleware,
// so it needs the guard in front of it rather than on a route).
func (s *Server) adminPrefix(c *fiber.Ctx) error {
	p := c.Path()
	if p == DebugPrefix || strings.HasPrefix(p, DebugPrefix+"/") {
		return s.adminOnly(c)
	}
	return c.Next()
}

func isLoopback(ip string) bool {
	return ip == "127.0.0.1" || ip == "::1" || strings.HasPrefix(ip, "127.")
}

// handleDebugVars answers runtime statistics and every Options.Debug section.
func (s *Server) handleDebugVars(c *fiber.Ctx) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := map[string]any{
		"runtime": map[string]any{
			"goroutines":     runtime.NumGoroutine(),
			"gomaxprocs":     runtime.GOMAXPROCS(0),
			"heap_alloc":     ms.HeapAlloc,
			"heap_inuse":     ms.HeapInuse,
			"heap_objects":   ms.HeapObjects,
			"sys":            ms.Sys,
			"num_gc":         ms.NumGC,
			"pause_total_ns": ms.PauseTotalNs,
			"go_version":     runtime.Version(),
		},
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), checkTimeout)
	defer cancel()
	for name, f := range s.opts.Debug {
		out[name] = f(ctx)
	}
	return c.JSON(out)
}
