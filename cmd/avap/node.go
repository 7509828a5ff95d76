package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/edge"
	natsembed "github.com/avapmesh/avap/nats"
)

// Roles a process can play.
const (
	roleServe    = "serve"
	roleEdge     = "edge"
	roleExecutor = "executor"
	roleRegistry = "registry"
	roleNATS     = "nats"
)

// unitHealth names the probe-only HTTP server of roles without the API.
const unitHealth = "health"

// defaultNATSListen is where `avap nats` listens when nats.listen is empty.
const defaultNATSListen = "127.0.0.1:4222"

// errForcedExit ends the process when a second signal arrives during
// shutdown.
var errForcedExit = errors.New("forced exit on second signal")

// node is one avap process: the units of its role, started in order.
type node struct {
	role   string
	roles  []string
	cfg    *configHolder
	log    *slog.Logger
	access *slog.Logger // the HTTP access log (logging_access.go)
	build  buildInfo
	nodeID string
	start  time.Time

	breakers *breaker.Group // circuit breakers of this process (mesh.go)

	lc   lifecycle
	conn *natsConn  // nil for the nats role
	tel  *telemetry // metrics and tracing (telemetry.go)
}

func newNode(role string, cfg *configHolder, logs processLoggers, b buildInfo, start time.Time) (*node, error) {
	c := cfg.Current()
	log := logs.Log
	n := &node{role: role, cfg: cfg, log: log, access: logs.Access, build: b, start: start, nodeID: c.Node.ID}
	if n.access == nil {
		n.access = log
	}
	if n.nodeID == "" {
		n.nodeID = defaultNodeID()
	}
	n.lc.log = log
	n.breakers = newBreakers(n.logger("breaker"))
	tel, err := newTelemetry(c, cfg, b, n.nodeID, start, n.logger("telemetry"))
	if err != nil {
		return nil, err
	}
	n.tel = tel
	n.add("telemetry", tel)          // first unit: shuts down last, flushing spans
	observeBreakers(tel, n.breakers) // avap_breaker_* (telemetry_more.go)
	// StatsD push of the registry (telemetry_statsd.go)
	if u := newStatsdUnit(c, tel, n.logger("statsd")); u != nil {
		n.add("statsd", u)
	}
	switch role {
	case roleServe:
		n.roles = []string{roleNATS, roleRegistry, roleExecutor, roleEdge}
		srv, err := n.embeddedNATS(c.NATS.Listen)
		if err != nil {
			return nil, err
		}
		n.add("nats-server", srv)
		if c.NATS.InProcess {
			n.conn = newNATSConn(func(o ...nats.Option) (*nats.Conn, error) {
				return nats.Connect("", append(o, nats.InProcessServer(srv), nats.Name("avap-"+n.nodeID))...)
			}, n.logger("nats"))
		} else {
			n.conn = newNATSConn(func(o ...nats.Option) (*nats.Conn, error) {
				if srv.ClientURL() == "" {
					return nil, errors.New("nats.in_process is false but nats.listen is empty")
				}
				return nats.Connect(srv.ClientURL(), append(o, nats.Name("avap-"+n.nodeID))...)
			}, n.logger("nats"))
		}
		n.add("nats", n.conn)
		n.add("breakers", newBreakerUnit(n.breakers))
		n.addRole(roleRegistry, newRegistry)
		n.addRole(roleExecutor, newExecutor)
		n.addRole(roleEdge, newEdge)
	case roleEdge, roleExecutor, roleRegistry:
		n.roles = []string{role}
		url := c.NATS.URL
		n.conn = newNATSConn(func(o ...nats.Option) (*nats.Conn, error) {
			// Seed URLs, reconnect with jitter, retry at start (mesh.go).
			nc, err := nats.Connect(url, append(o, natsClientOptions(role, n.nodeID)...)...)
			if err != nil {
				return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
			}
			return nc, nil
		}, n.logger("nats"))
		n.add("nats", n.conn)
		n.add("breakers", newBreakerUnit(n.breakers))
		n.addRole(role, map[string]func(wiring) (component, error){
			roleEdge: newEdge, roleExecutor: newExecutor, roleRegistry: newRegistry,
		}[role])
		if role != roleEdge {
			n.addRole(unitHealth, newHealthServer)
		}
	case roleNATS:
		n.roles = []string{roleNATS}
		listen := c.NATS.Listen
		if listen == "" {
			listen = defaultNATSListen
		}
		srv, err := n.embeddedNATS(listen)
		if err != nil {
			return nil, err
		}
		n.add("nats-server", srv)
		n.addRole(unitHealth, newHealthServer)
	default:
		return nil, fmt.Errorf("unknown role %q", role)
	}
	if n.conn != nil {
		n.tel.register(newNATSCollector(n.conn.Conn))
	}
	return n, nil
}

func (n *node) logger(component string) *slog.Logger { return n.log.With("component", component) }

func (n *node) add(name string, c component) { n.lc.units = append(n.lc.units, unit{name, c}) }

// addRole adds a component built by a wire_*.go constructor when its turn
// to start comes.
func (n *node) addRole(name string, ctor func(wiring) (component, error)) {
	prior := append([]unit(nil), n.lc.units...)
	n.add(name, newDeferred(func() (component, error) {
		w := wiring{
			Log: n.logger(name), AccessLog: n.access.With("component", name), Config: n.cfg, NodeID: n.nodeID, Build: n.build, Roles: n.roles, Start: n.start,
			Tel: n.tel, Breakers: n.breakers,
		}
		if n.conn != nil {
			w.Conn = n.conn.Conn()
		}
		if name == roleEdge || name == unitHealth {
			for _, u := range prior {
				w.Checks = append(w.Checks, edge.Check{Name: u.name, Func: u.check})
			}
		}
		return ctor(w)
	}))
}

func (n *node) embeddedNATS(listen string) (*natsembed.Server, error) {
	c := n.cfg.Current()
	store := c.NATS.JetStream.StoreDir
	if store == "" {
		store = filepath.Join(c.DataDir, "jetstream")
	}
	return natsembed.New(natsembed.Options{
		Name:             n.nodeID,
		Listen:           listen,
		ClusterName:      c.NATS.Cluster.Name,
		ClusterListen:    c.NATS.Cluster.Listen,
		Routes:           c.NATS.Cluster.Routes,
		JetStream:        c.NATS.JetStream.Enabled,
		StoreDir:         store,
		MaxMemory:        int64(c.NATS.JetStream.MaxMemory),
		MaxStore:         int64(c.NATS.JetStream.MaxStore),
		MaxPayload:       int32(c.NATS.MaxPayload),
		LameDuckDuration: c.NATS.LameDuck,
		Logger:           n.logger("nats-server"),
		Debug:            c.Log.Level == "debug",
	})
}

// stopTimeout bounds the whole shutdown: drain delay and grace periods
// plus a margin for NATS to flush.
func (n *node) stopTimeout() time.Duration {
	c := n.cfg.Current()
	return c.HTTP.ShutdownDelay + c.HTTP.Grace + c.Executor.Grace + c.NATS.LameDuck + 10*time.Second
}

// run starts the node, serves until SIGINT/SIGTERM (or a component
// failure), then drains. SIGHUP reloads the config. A second SIGINT or
// SIGTERM during shutdown returns errForcedExit at once.
func (n *node) run(ctx context.Context, sigs <-chan os.Signal) error {
	if err := n.lc.Start(ctx, n.stopTimeout()); err != nil {
		return err
	}
	attrs := []any{"version", n.build.Version, "node", n.nodeID, "roles", strings.Join(n.roles, ","),
		"duration", time.Since(n.start).Round(time.Millisecond)}
	attrs = append(attrs, "http", n.cfg.Current().HTTP.Addr)
	n.log.Info("avap started", attrs...)

	var runErr error
	failed := n.lc.Failed()
wait:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = n.cfg.Reload() // logged inside; the old config stays on error
				continue
			}
			n.log.Info("shutting down", "signal", sig.String())
			break wait
		case err := <-failed:
			n.log.Error("component failed; shutting down", "err", err)
			runErr = err
			break wait
		case <-ctx.Done():
			n.log.Info("shutting down", "cause", context.Cause(ctx))
			break wait
		}
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.stopTimeout())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.lc.Shutdown(sctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				return errors.Join(runErr, err)
			}
			if runErr == nil {
				n.log.Info("avap stopped")
			}
			return runErr
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				n.log.Warn("ignoring SIGHUP during shutdown")
				continue
			}
			n.log.Warn("second signal; exiting without finishing shutdown", "signal", sig.String())
			return errForcedExit
		}
	}
}

// defaultNodeID is the host name plus a random suffix, so several nodes on
// one host stay distinct.
func defaultNodeID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "avap"
	}
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		if validNodeID(string(r)) {
			b.WriteRune(r)
		}
	}
	id := b.String()
	if len(id) > 40 {
		id = id[:40]
	}
	return strings.ToLower(id) + "-" + strings.ToLower(nuid.Next()[16:])
}
