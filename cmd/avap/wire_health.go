package main

import "github.com/avapmesh/avap/edge"

// newHealthServer builds the HTTP server of the roles without an API
// (executor, registry, nats): /healthz, /readyz, /health, /api/v1/health
// and /api/v1/info on http.addr, for probes. It starts last.
func newHealthServer(w wiring) (component, error) {
	cfg := w.Config.Current()
	opts := edge.Options{
		Addr:          cfg.HTTP.Addr,
		ReadTimeout:   cfg.HTTP.ReadTimeout,
		WriteTimeout:  cfg.HTTP.WriteTimeout,
		IdleTimeout:   cfg.HTTP.IdleTimeout,
		BodyLimit:     4 << 10, // probes send no body
		ShutdownDelay: cfg.HTTP.ShutdownDelay,
		Grace:         cfg.HTTP.Grace,
		AccessLog:     false,
		HealthOnly:    true,
		Logger:        w.Log,
		Checks:        w.Checks,
		Info:          w.info(),
	}
	w.edgeTelemetry(&opts) // /metrics and debug endpoints on every role (telemetry.go)
	s, err := edge.New(opts)
	if err != nil {
		return nil, err
	}
	watchAdminToken(w, s) // debug.admin_token is reloadable (secrets_reload.go)
	return s, nil
}
