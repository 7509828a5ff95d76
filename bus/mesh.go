package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Node discovery by heartbeat. Every node (edge, executor, registry)
// publishes a Heartbeat on HeartbeatSubject(role, id) every interval and
// answers MeshPingSubject with one at once; a Members tracker (edges,
// `avap mesh`) keeps the nodes heard from within ExpiryIntervals intervals.
// micro's $SRV discovery finds executors only and only when asked; the
// heartbeat covers every role and carries load and queue depth.

// Defaults of heartbeats and membership.
const (
	DefaultHeartbeatInterval = 2 * time.Second
	// ExpiryIntervals is how many heartbeat intervals of silence make a
	// member expire.
	ExpiryIntervals = 3
)

// Heartbeat is what a node says about itself.
type Heartbeat struct {
	ID         string    `json:"id"`
	Role       string    `json:"role"` // edge, executor, registry
	Version    string    `json:"version"`
	Zone       string    `json:"zone,omitempty"`
	HTTP       string    `json:"http,omitempty"` // host:port of its HTTP listener
	Load       float64   `json:"load"`           // busy fraction of its workers (executor), 0..1
	InFlight   int64     `json:"in_flight"`      // requests or runs in progress
	Queued     int64     `json:"queued"`         // admitted, waiting for a worker
	Started    time.Time `json:"started"`
	Sent       time.Time `json:"sent"`
	IntervalMS int64     `json:"interval_ms"`
	Leaving    bool      `json:"leaving,omitempty"` // last heartbeat of a node shutting down
}

// HeartbeatSubject returns "avap.mesh.v1.hb.<role>.<id>".
func HeartbeatSubject(role, id string) (string, error) {
	if err := ValidToken(role); err != nil {
		return "", err
	}
	if err := ValidToken(id); err != nil {
		return "", err
	}
	return MeshPrefix + ".hb." + role + "." + id, nil
}

// HeartbeatWildcard matches every heartbeat.
const HeartbeatWildcard = MeshPrefix + ".hb.>"

// MeshPingSubject makes every node answer with its heartbeat at once.
const MeshPingSubject = MeshPrefix + ".ping"

// maxHeartbeatBytes bounds a heartbeat a tracker accepts.
const maxHeartbeatBytes = 4 << 10

// LoadFunc reports a node's current load, in-flight and queued counts.
type LoadFunc func() (load float64, inFlight, queued int64)

// HeartbeatOptions configure a Heartbeater.
type HeartbeatOptions struct {
	Conn     *nats.Conn    // required
	Self     Heartbeat     // ID, Role, Version, Zone, HTTP, Started
	Interval time.Duration // 0 = DefaultHeartbeatInterval
	Load     LoadFunc      // or nil for zeros
	Logger   *slog.Logger  // or nil
}

// Heartbeater publishes a node's heartbeats until Stop.
type Heartbeater struct {
	o    HeartbeatOptions
	subj string
	ping *nats.Subscription
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartHeartbeat validates o, publishes a first heartbeat and keeps
// publishing every interval in the background.
func StartHeartbeat(o HeartbeatOptions) (*Heartbeater, error) {
	if o.Conn == nil {
		return nil, fmt.Errorf("heartbeat: no connection")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultHeartbeatInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	subj, err := HeartbeatSubject(o.Self.Role, o.Self.ID)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	h := &Heartbeater{o: o, subj: subj, stop: make(chan struct{}), done: make(chan struct{})}
	h.ping, err = o.Conn.Subscribe(MeshPingSubject, func(m *nats.Msg) {
		if m.Reply != "" {
			_ = o.Conn.Publish(m.Reply, h.encode(false))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	h.publish(false)
	go h.loop()
	return h, nil
}

func (h *Heartbeater) encode(leaving bool) []byte {
	hb := h.o.Self
	if h.o.Load != nil {
		hb.Load, hb.InFlight, hb.Queued = h.o.Load()
	}
	hb.Sent = time.Now().UTC()
	hb.IntervalMS = h.o.Interval.Milliseconds()
	hb.Leaving = leaving
	b, _ := json.Marshal(hb)
	return b
}

func (h *Heartbeater) publish(leaving bool) {
	if err := h.o.Conn.Publish(h.subj, h.encode(leaving)); err != nil {
		h.o.Logger.Debug("heartbeat not sent", "err", err)
	}
}

func (h *Heartbeater) loop() {
	defer close(h.done)
	t := time.NewTicker(h.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.publish(false)
		}
	}
}

// Stop ends the heartbeats with a last one marked Leaving, so trackers
// drop the node at once instead of after the expiry. Idempotent.
func (h *Heartbeater) Stop() {
	h.once.Do(func() {
		close(h.stop)
		<-h.done
		_ = h.ping.Unsubscribe()
		h.publish(true)
		_ = h.o.Conn.Flush()
	})
}

// Member is a node heard from, as a tracker sees it.
type Member struct {
	Heartbeat
	LastSeen time.Time `json:"last_seen"`
	AgeMS    int64     `json:"age_ms"` // since LastSeen, when listed
}

// MembersOptions configure a Members tracker.
type MembersOptions struct {
	// SyncWait bounds how long Watch waits for the answers to its ping;
	// 0 = 200ms, < 0 = no ping.
	SyncWait time.Duration
	// Now is the clock; nil = time.Now (tests inject one).
	Now func() time.Time
}

// Members tracks the live nodes of the mesh from their heartbeats. Nodes
// silent for ExpiryIntervals of their own interval, or that said they are
// leaving, are not listed. Safe for concurrent use.
type Members struct {
	now func() time.Time
	sub *nats.Subscription

	mu sync.Mutex
	m  map[string]Member // by role + "/" + id
}

// NewMembers returns an empty tracker fed by Observe (no NATS); Watch is
// the usual constructor.
func NewMembers(now func() time.Time) *Members {
	if now == nil {
		now = time.Now
	}
	return &Members{now: now, m: map[string]Member{}}
}

// WatchMembers subscribes to every heartbeat on nc, pings the mesh so the
// list is complete at once, and waits up to o.SyncWait for the answers.
func WatchMembers(ctx context.Context, nc *nats.Conn, o MembersOptions) (*Members, error) {
	m := NewMembers(o.Now)
	sub, err := nc.Subscribe(HeartbeatWildcard, func(msg *nats.Msg) { m.ObserveJSON(msg.Data) })
	if err != nil {
		return nil, err
	}
	m.sub = sub
	if o.SyncWait >= 0 {
		wait := o.SyncWait
		if wait == 0 {
			wait = 200 * time.Millisecond
		}
		hbs, _ := PingMesh(ctx, nc, wait)
		for _, hb := range hbs {
			m.Observe(hb)
		}
	}
	return m, nil
}

// Stop unsubscribes.
func (m *Members) Stop() {
	if m.sub != nil {
		_ = m.sub.Unsubscribe()
	}
}

// ObserveJSON records a heartbeat in its JSON form; malformed or
// oversized ones are ignored.
func (m *Members) ObserveJSON(b []byte) {
	if len(b) > maxHeartbeatBytes {
		return
	}
	var hb Heartbeat
	if json.Unmarshal(b, &hb) != nil || ValidToken(hb.ID) != nil || ValidToken(hb.Role) != nil {
		return
	}
	m.Observe(hb)
}

// Observe records one heartbeat.
func (m *Members) Observe(hb Heartbeat) {
	key := hb.Role + "/" + hb.ID
	m.mu.Lock()
	defer m.mu.Unlock()
	if hb.Leaving {
		delete(m.m, key)
		return
	}
	m.m[key] = Member{Heartbeat: hb, LastSeen: m.now()}
}

// List returns the live members sorted by role then id, dropping expired
// ones.
func (m *Members) List() []Member {
	now := m.now()
	m.mu.Lock()
	out := make([]Member, 0, len(m.m))
	for k, mb := range m.m {
		iv := time.Duration(mb.IntervalMS) * time.Millisecond
		if iv <= 0 {
			iv = DefaultHeartbeatInterval
		}
		age := now.Sub(mb.LastSeen)
		if age > ExpiryIntervals*iv {
			delete(m.m, k)
			continue
		}
		mb.AgeMS = age.Milliseconds()
		out = append(out, mb)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// PingMesh asks every node for its heartbeat and returns the answers that
// arrive within wait (ending early once they stop coming).
func PingMesh(ctx context.Context, nc *nats.Conn, wait time.Duration) ([]Heartbeat, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(MeshPingSubject, inbox, nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var out []Heartbeat
	for {
		wctx, c2 := ctx, context.CancelFunc(func() {})
		if len(out) > 0 {
			wctx, c2 = context.WithTimeout(ctx, 4*discoveryQuiet)
		}
		msg, err := sub.NextMsgWithContext(wctx)
		c2()
		if err != nil {
			return out, nil
		}
		var hb Heartbeat
		if len(msg.Data) <= maxHeartbeatBytes && json.Unmarshal(msg.Data, &hb) == nil && hb.ID != "" {
			out = append(out, hb)
		}
	}
}
