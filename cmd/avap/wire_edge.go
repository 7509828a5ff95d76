package main

import (
	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

// newEdge builds the HTTP edge for `avap serve` and `avap edge`. It starts
// last, so every other component is ready before the port opens. Execution
// routes are added inside package edge (edge/execute*.go); options they need
// go into edge.Options here.
func newEdge(w wiring) (component, error) {
	cfg := w.Config.Current()
	aud := newAuditEmitter(w) // admin audit events (wire_jobs.go)
	opts := edge.Options{
		Addr:          cfg.HTTP.Addr,
		ReadTimeout:   cfg.HTTP.ReadTimeout,
		WriteTimeout:  cfg.HTTP.WriteTimeout,
		IdleTimeout:   cfg.HTTP.IdleTimeout,
		BodyLimit:     int(cfg.HTTP.BodyLimit),
		ShutdownDelay: cfg.HTTP.ShutdownDelay,
		Grace:         cfg.HTTP.Grace,
		AccessLog:     cfg.HTTP.AccessLog,
		Pprof:         cfg.Debug.Pprof,
		Logger:        w.Log,
		AccessLogger:  w.AccessLog,
		Conn:          w.Conn,
		Checks:        w.Checks,
		Jobs:          edgeJobs(w, aud),
		Protect:       cfg.HTTP.protectOptions(w.NodeID), // config_protect.go
		Execute: edge.ExecuteOptions{
			ScriptTimeout: cfg.Executor.Limits.Timeout,
			MaxInFlight:   cfg.HTTP.MaxInFlight,
			MaxTimeout:    cfg.Executor.MaxLimits.Timeout,
			ProjectPrefix: cfg.HTTP.ProjectPrefix,
			Zone:          cfg.Node.Zone, // prefer the zone's executors (edge/locality.go)
		},
		InfoExtra: infoWithLimits(cfg, edge.MeshInfo(w.Conn, 0)), // wire_console.go
		Routes:    consoleRoutes(cfg),                            // web console (wire_console.go)
		Info: edge.Info{
			Name:      "avap",
			Version:   w.Build.Version,
			Commit:    w.Build.Commit,
			BuildDate: w.Build.Date,
			GoVersion: w.Build.GoVersion,
			NodeID:    w.NodeID,
			Roles:     w.Roles,
			StartTime: w.Start,
		},
	}
	// Live nodes and breakers in /api/v1/info (mesh.go).
	var members *bus.Members
	opts.InfoExtra, members = membersInfo(w, opts.InfoExtra)

	w.edgeTelemetry(&opts) // metrics, tracing, debug endpoints (telemetry.go)
	s, err := edge.New(opts)
	if err != nil {
		return nil, err
	}
	watchAdminToken(w, s)                                                             // debug.admin_token is reloadable (secrets_reload.go)
	observeProtect(w, s)                                                              // guard and rate-limit metrics (telemetry_more.go)
	mm := withMeshMember(w, roleEdge, withProtect(w, withEmitter(w, s, aud), s), nil) // wire_protect.go, heartbeats (mesh.go)
	if m, ok := mm.(*meshMember); ok {
		m.members = members
	}
	return mm, nil
}
