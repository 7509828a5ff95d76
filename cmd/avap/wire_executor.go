package main

import (
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/vm"
)

// newExecutor builds the executor component for `avap serve` and
// `avap executor`. It runs after the NATS connection is up (w.Conn is set):
// in-process under serve, nats.url otherwise. executor.limits is
// reloadable: the hook swaps the defaults for new runs.
func newExecutor(w wiring) (component, error) {
	cfg := w.Config.Current()
	reg, err := newRegistryCache(w) // nil without trusted keys
	if err != nil {
		return nil, err
	}
	aud := newAuditEmitter(w) // nil when audit is off
	// RequestGet/RequestPost and SQL connectors (wire_host.go).
	host, err := newHost(cfg, w.Log, w.Breakers, w.Config)
	if err != nil {
		return nil, err
	}
	e, err := executor.New(executor.Options{
		CompileOptions: reg.compileOptions(vm.CompileOptions{}),
		Commands:       reg.commands(),
		Conn:           w.Conn,
		Logger:         w.Log,
		Version:        semver(w.Build.Version),
		Workers:        cfg.Executor.Workers,
		QueueSize:      cfg.Executor.QueueSize,
		GracePeriod:    cfg.Executor.Grace,
		DefaultLimits:  cfg.Executor.Limits.vmLimits(),
		MaxLimits:      cfg.Executor.MaxLimits.vmLimits(),
		Metadata:       map[string]string{"node_id": w.NodeID},
		Zone:           cfg.Node.Zone, // zone subjects too (executor/locality.go)
		Audit:          executorAuditor(aud),
		Host:           host,
		Metrics:        w.Tel.Registerer(),
		Tracer:         w.Tel.TracerProvider(),
	})
	if err != nil {
		return nil, err
	}
	observeExecutor(w, e, reg) // debug sections and registry cache metrics (telemetry_components.go)
	w.Config.OnReload(func(_, cur *Config) { e.SetDefaultLimits(cur.Executor.Limits.vmLimits()) })
	c, err := withDurable(w, e, aud, reg.wrap(e)) // jobs runner, audit emitter and sink (wire_jobs.go)
	if err != nil {
		return nil, err
	}
	return withMeshMember(w, roleExecutor, c, executorLoad(e)), nil // heartbeats (mesh.go)
}

// semver makes a build version acceptable to micro ("v0.1.0" -> "0.1.0";
// "dev" -> "0.0.0-dev").
func semver(v string) string {
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		v = v[1:]
	}
	if v == "" || v[0] < '0' || v[0] > '9' {
		return "0.0.0-" + sanitizeSemverTag(v)
	}
	return v
}

func sanitizeSemverTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "dev"
	}
	return string(b)
}
