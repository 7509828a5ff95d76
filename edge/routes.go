package edge

// routes installs the middleware chain and every route. Execution routes
// live in execute*.go (mountExecute) so they can grow without touching
// this file.
func (s *Server) routes() {
	app := s.app
	if s.opts.Pprof {
		app.Use(s.adminPrefix, pprofMiddleware()) // admin token (observe_http.go)
	}
	app.Use(s.frontMiddleware) // request id, security headers, body limit, access log (middleware.go)
	s.mountGuard(app)          // CORS, auth, rate limits, validation (auth_guard.go)
	app.Get("/healthz", handleLive)
	app.Get("/readyz", s.handleReady)
	app.Get("/health", s.handleHealth)
	s.mountTelemetry(app) // /metrics, /api/v1/metrics, /debug/vars (observe_http.go)

	api := app.Group("/api/v1")
	api.Get("/health", s.handleHealth)
	api.Get("/info", s.handleInfo)
	if !s.opts.HealthOnly {
		s.mountJobs(api) // before mountExecute: its idempotency middleware wraps /execute
		s.mountExecute(api)
		s.mountCheck(api)    // check.go
		s.mountRegistry(api) // registry_list.go
		for _, mount := range s.opts.Routes {
			mount(app) // e.g. the web console (edge/console), GET routes only
		}
	}
}
