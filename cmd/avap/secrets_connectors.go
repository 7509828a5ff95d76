package main

import (
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/avapmesh/avap/executor"
)

// SQL connector DSNs (executor.connectors.<name>.dsn_file / dsn_env) on
// reload: each is read again; a DSN that differs from the running one only
// in the password becomes the running one, so the connector's new
// connections authenticate with the rotated password (BeforeConnect,
// secrets_pg.go) while open ones keep working until recycled. Any other
// difference, or a DSN that cannot be read, logs a warning naming the
// connector (never the value) and keeps the running DSN until a restart.

// watchConnectorDSNs sets the BeforeConnect hook of every connector of o
// and registers the reload hook that reads their DSNs again.
func watchConnectorDSNs(h *configHolder, log *slog.Logger, o *executor.HostOptions) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	running := map[string]*atomic.Pointer[string]{}
	for name, c := range o.Connectors {
		p := new(atomic.Pointer[string])
		dsn := c.DSN
		p.Store(&dsn)
		running[name] = p
		src := &passwordSource{current: func() string { return *p.Load() }}
		c.BeforeConnect = src.beforeConnect
		o.Connectors[name] = c
	}
	if len(running) == 0 {
		return
	}
	h.OnReload(func(_, cur *Config) {
		for _, name := range slices.Sorted(maps.Keys(running)) {
			k, ok := cur.Executor.Connectors[name]
			if !ok {
				continue // connectors are not reloadable: the diff refused this already
			}
			p := running[name]
			dsn, err := k.readDSN(name)
			switch {
			case err != nil:
				log.Warn("connector DSN not read again on reload; the running one stays", "connector", name, "err", err)
			case dsn == *p.Load():
			case passwordOnlyChange(*p.Load(), dsn):
				p.Store(&dsn)
				log.Info("postgres password rotated", "connector", name)
			default:
				log.Warn("connector DSN changed other than the password: it needs a restart, the running one stays until then",
					"connector", name)
			}
		}
	})
}
