package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/registry"
)

// Multi-node wiring: client failover options, heartbeats, the members
// list of /api/v1/info, and the process's circuit breakers. See
// docs in README "Running a cluster".

// natsClientOptions are the options of a role's connection to nats.url (a
// comma-separated list of seed URLs, tried in random order at start): once
// connected, reconnect for ever with jitter to any server of the cluster
// (the seeds plus those the cluster advertises), buffering what is
// published meanwhile; name the connection after the node. The
// disconnect/reconnect handlers (logging) come from natsConn. A start with
// no seed answering still fails (RetryOnFailedConnect off): the process
// exits and its supervisor restarts it, as the roles script test expects.
func natsClientOptions(role, nodeID string) []nats.Option {
	return []nats.Option{
		nats.Name("avap-" + role + "-" + nodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(8 << 20),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
	}
}

// meshMember wraps a role's component: once it started, the node
// publishes heartbeats (bus.StartHeartbeat) as role; before it stops, a
// last "leaving" heartbeat drops it from every members list at once.
// Edges also track the members for /api/v1/info.
type meshMember struct {
	component
	w       wiring
	role    string
	load    bus.LoadFunc
	hb      *bus.Heartbeater
	members *bus.Members // edges only
}

func withMeshMember(w wiring, role string, c component, load bus.LoadFunc) component {
	if w.Conn == nil {
		return c
	}
	return &meshMember{component: c, w: w, role: role, load: load}
}

func (m *meshMember) Start(ctx context.Context) error {
	if err := m.component.Start(ctx); err != nil {
		return err
	}
	cfg := m.w.Config.Current()
	hb, err := bus.StartHeartbeat(bus.HeartbeatOptions{
		Conn: m.w.Conn, Interval: cfg.Node.Heartbeat, Load: m.load, Logger: m.w.Log,
		Self: bus.Heartbeat{
			ID: m.w.NodeID, Role: m.role, Version: m.w.Build.Version, Zone: cfg.Node.Zone,
			HTTP: cfg.HTTP.Addr, Started: m.w.Start.UTC(),
		},
	})
	if err != nil {
		m.w.Log.Warn("no heartbeats", "err", err)
		return nil
	}
	m.hb = hb
	return nil
}

func (m *meshMember) Shutdown(ctx context.Context) error {
	if m.hb != nil {
		m.hb.Stop()
	}
	if m.members != nil {
		m.members.Stop()
	}
	return m.component.Shutdown(ctx)
}

func (m *meshMember) Failed() <-chan error {
	if f, ok := m.component.(failer); ok {
		return f.Failed()
	}
	return nil
}

func (m *meshMember) Check(ctx context.Context) error {
	if c, ok := m.component.(checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// executorLoad reports an executor's busy fraction, runs in flight and
// queued requests for its heartbeat.
func executorLoad(e *executor.Executor) bus.LoadFunc {
	return func() (float64, int64, int64) {
		st := e.Statz()
		workers, queued := 0, 0
		for _, n := range st.Workers {
			workers += n
		}
		for _, n := range st.Queued {
			queued += n
		}
		load := 0.0
		if workers > 0 {
			load = float64(st.InFlight) / float64(workers)
		}
		return load, st.InFlight, int64(queued)
	}
}

// membersInfo adds "nodes" (live members from heartbeats) and "breakers"
// to /api/v1/info. The tracker starts when the edge is built (it needs
// the connection only) and stops with the edge's meshMember.
func membersInfo(w wiring, next func(context.Context) map[string]any) (func(context.Context) map[string]any, *bus.Members) {
	if w.Conn == nil {
		return next, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := bus.WatchMembers(ctx, w.Conn, bus.MembersOptions{SyncWait: -1})
	if err != nil {
		w.Log.Warn("no members list", "err", err)
		return next, nil
	}
	go func() { // fill the list now rather than at the next heartbeats, without delaying the start
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		hbs, _ := bus.PingMesh(pctx, w.Conn, 500*time.Millisecond)
		for _, hb := range hbs {
			m.Observe(hb)
		}
	}()
	return func(ctx context.Context) map[string]any {
		out := map[string]any{}
		if next != nil {
			out = next(ctx)
		}
		mesh, _ := out["mesh"].(map[string]any)
		if mesh == nil {
			mesh = map[string]any{}
			out["mesh"] = mesh
		}
		mesh["nodes"] = m.List()
		if bs := w.Breakers.Stats(); len(bs) > 0 {
			out["breakers"] = bs
		}
		return out
	}, m
}

// breakerUnit is the process's breaker group as a lifecycle unit, so the
// health report has a "breakers" component: unavailable while a critical
// breaker is open (none of the current ones is: PostgreSQL and the
// registry have fallbacks), and the states in /api/v1/info.
type breakerUnit struct {
	g     *breaker.Group
	ready chan struct{}
}

func newBreakerUnit(g *breaker.Group) *breakerUnit {
	return &breakerUnit{g: g, ready: make(chan struct{})}
}

func (b *breakerUnit) Start(context.Context) error {
	select {
	case <-b.ready:
	default:
		close(b.ready)
	}
	return nil
}
func (b *breakerUnit) Shutdown(context.Context) error  { return nil }
func (b *breakerUnit) Ready() <-chan struct{}          { return b.ready }
func (b *breakerUnit) Check(ctx context.Context) error { return b.g.Check(ctx) }

func newBreakers(log *slog.Logger) *breaker.Group {
	return breaker.NewGroup(breaker.Options{Logger: log})
}

// registryGuard guards the executors' calls to the registry service (L3
// of the registry cache, registry.CacheOptions.Guard): only "unavailable"
// (no responders, timeout, closed connection) counts; a missing command is
// an answer. A refused call is ErrUnavailable too, so the cache falls back
// to its other tiers as when the registry is down.
func registryGuard(g *breaker.Group) func(func() error) error {
	if g == nil {
		return nil
	}
	b := g.GetWith("registry", breaker.Options{
		Failures: 5, OpenFor: 5 * time.Second,
		IsFailure: func(err error) bool { return errors.Is(err, registry.ErrUnavailable) },
	})
	return func(call func() error) error {
		err := b.Do(call)
		if breaker.IsOpen(err) {
			return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
		}
		return err
	}
}

// guardedStore puts a breaker around the registry's PostgreSQL store:
// while PostgreSQL is down, calls fail at once instead of each waiting for
// its timeout. Not-found and conflicts are answers, not failures.
type guardedStore struct {
	registry.Store
	b *breaker.Breaker
}

func guardStore(g *breaker.Group, s registry.Store) registry.Store {
	if g == nil {
		return s
	}
	b := g.GetWith("postgres:registry", breaker.Options{
		Failures: 5, OpenFor: 5 * time.Second,
		IsFailure: func(err error) bool {
			return !errors.Is(err, registry.ErrNotFound) && !errors.Is(err, registry.ErrExists) &&
				!errors.Is(err, context.Canceled)
		},
	})
	return &guardedStore{Store: s, b: b}
}

func (s *guardedStore) Publish(ctx context.Context, rec *registry.Record) (registry.Entry, error) {
	return breaker.Call(s.b, func() (registry.Entry, error) { return s.Store.Publish(ctx, rec) })
}

func (s *guardedStore) Get(ctx context.Context, name, version string) (*registry.Record, error) {
	return breaker.Call(s.b, func() (*registry.Record, error) { return s.Store.Get(ctx, name, version) })
}

func (s *guardedStore) GetByHash(ctx context.Context, hash string) (*registry.Record, error) {
	return breaker.Call(s.b, func() (*registry.Record, error) { return s.Store.GetByHash(ctx, hash) })
}

func (s *guardedStore) List(ctx context.Context, name string) ([]registry.Entry, error) {
	return breaker.Call(s.b, func() ([]registry.Entry, error) { return s.Store.List(ctx, name) })
}

func (s *guardedStore) Since(ctx context.Context, rev int64) ([]registry.Entry, int64, error) {
	var cur int64
	es, err := breaker.Call(s.b, func() ([]registry.Entry, error) {
		es, c, err := s.Store.Since(ctx, rev)
		cur = c
		return es, err
	})
	return es, cur, err
}

func (s *guardedStore) SetStatus(ctx context.Context, name, version, status, reason string) (registry.Entry, error) {
	return breaker.Call(s.b, func() (registry.Entry, error) { return s.Store.SetStatus(ctx, name, version, status, reason) })
}
