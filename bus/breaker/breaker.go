// Package breaker puts circuit breakers (github.com/sony/gobreaker/v2)
// around the external dependencies of avap: the registry, PostgreSQL,
// outbound HTTP from scripts and job callbacks.
//
// A [Breaker] guards one dependency. While it is closed calls go through and
// their failures are counted; after Options.Failures consecutive failures
// (or a failure ratio over a window) it opens and calls fail at once with
// [ErrOpen] for Options.OpenFor; then it is half-open and lets
// Options.Probes calls through: if they succeed it closes, else it opens
// again. A [Group] holds the breakers of one process by name, reports
// their [Stats] (for metrics and /api/v1/info) and a health check.
//
// The package keeps no global state; wrappers for the common call shapes
// are in this package: [Do] and [Call] for functions, [Transport] for
// net/http clients (one breaker per host).
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults of Options.
const (
	DefaultFailures = 5
	DefaultOpenFor  = 5 * time.Second
	DefaultProbes   = 1
	DefaultWindow   = 30 * time.Second
)

// ErrOpen is returned (wrapped, naming the breaker) for a call refused
// because the breaker is open or half-open with its probes in flight.
var ErrOpen = errors.New("circuit breaker open")

// States, as reported by Stats.State.
const (
	StateClosed   = "closed"
	StateHalfOpen = "half-open"
	StateOpen     = "open"
)

// Options configure a Breaker. Zero fields take the Default* values.
type Options struct {
	// Failures is the number of consecutive failures that open the breaker.
	Failures uint32
	// Ratio, when > 0, also opens the breaker when at least MinRequests
	// calls in the current Window failed at this ratio (0..1).
	Ratio       float64
	MinRequests uint32
	// Window is the cyclic period of the closed state after which the
	// counts are cleared; 0 = DefaultWindow.
	Window time.Duration
	// OpenFor is how long the breaker stays open before it lets probes
	// through; 0 = DefaultOpenFor.
	OpenFor time.Duration
	// Probes is the number of calls let through while half-open.
	Probes uint32
	// IsFailure decides which errors count against the dependency; nil
	// counts every error except context cancellation by the caller (a
	// canceled request says nothing about the dependency). Errors for
	// which it returns false count as successes.
	IsFailure func(error) bool
	// Critical makes an open breaker fail the Group's health check (and so
	// readiness). Leave it false for dependencies the process can work
	// without (one remote host of a script).
	Critical bool
	// Logger receives one line per state change; or nil.
	Logger *slog.Logger
}

// Breaker guards one dependency. It is safe for concurrent use.
type Breaker struct {
	name     string
	critical bool
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	isFail   func(error) bool

	rejected    atomic.Int64
	opened      atomic.Int64
	transitions atomic.Int64
	changed     atomic.Int64 // unix nanos of the last state change
	lastErr     atomic.Pointer[string]
}

// New returns a closed breaker named name.
func New(name string, o Options) *Breaker {
	if o.Failures == 0 {
		o.Failures = DefaultFailures
	}
	if o.OpenFor <= 0 {
		o.OpenFor = DefaultOpenFor
	}
	if o.Probes == 0 {
		o.Probes = DefaultProbes
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.IsFailure == nil {
		o.IsFailure = defaultIsFailure
	}
	b := &Breaker{name: name, critical: o.Critical, isFail: o.IsFailure}
	b.changed.Store(time.Now().UnixNano())
	log := o.Logger
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: o.Probes,
		Interval:    o.Window,
		Timeout:     o.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= o.Failures {
				return true
			}
			return o.Ratio > 0 && c.Requests >= max(o.MinRequests, 1) &&
				float64(c.TotalFailures)/float64(c.Requests) >= o.Ratio
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			b.transitions.Add(1)
			b.changed.Store(time.Now().UnixNano())
			if to == gobreaker.StateOpen {
				b.opened.Add(1)
			}
			if log != nil {
				lvl := slog.LevelInfo
				if to == gobreaker.StateOpen {
					lvl = slog.LevelWarn
				}
				attrs := []any{"breaker", name, "from", stateName(from), "to", stateName(to)}
				if e := b.lastErr.Load(); e != nil && to == gobreaker.StateOpen {
					attrs = append(attrs, "last_error", *e)
				}
				log.Log(context.Background(), lvl, "circuit breaker state change", attrs...)
			}
		},
	})
	return b
}

// defaultIsFailure counts every error but a caller's cancellation.
func defaultIsFailure(err error) bool { return !errors.Is(err, context.Canceled) }

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// State returns "closed", "half-open" or "open"; a nil Breaker is closed.
func (b *Breaker) State() string {
	if b == nil {
		return StateClosed
	}
	return stateName(b.cb.State())
}

// Allow asks to make one call (a nil Breaker always allows it). When the breaker lets it through, done
// must be called exactly once with the call's error (nil on success);
// else the error wraps ErrOpen.
func (b *Breaker) Allow() (done func(error), err error) {
	if b == nil {
		return func(error) {}, nil
	}
	d, err := b.cb.Allow()
	if err != nil {
		b.rejected.Add(1)
		return nil, fmt.Errorf("%s: %w", b.name, ErrOpen)
	}
	return func(err error) {
		if err != nil && b.isFail(err) {
			s := err.Error()
			b.lastErr.Store(&s)
			d(err)
			return
		}
		d(nil)
	}, nil
}

// Do runs fn through b.
func (b *Breaker) Do(fn func() error) error {
	done, err := b.Allow()
	if err != nil {
		return err
	}
	err = fn()
	done(err)
	return err
}

// Call runs fn through b and returns its value.
func Call[T any](b *Breaker, fn func() (T, error)) (T, error) {
	done, err := b.Allow()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn()
	done(err)
	return v, err
}

// Stats is a snapshot of one breaker, for health, /api/v1/info and
// metrics (avap_breaker_state{name}, avap_breaker_rejected_total{name}, ...).
type Stats struct {
	Name                 string    `json:"name"`
	State                string    `json:"state"` // closed, half-open or open
	Critical             bool      `json:"critical,omitempty"`
	Requests             uint32    `json:"requests"` // in the current window/generation
	Successes            uint32    `json:"successes"`
	Failures             uint32    `json:"failures"`
	ConsecutiveFailures  uint32    `json:"consecutive_failures"`
	ConsecutiveSuccesses uint32    `json:"consecutive_successes"`
	Rejected             int64     `json:"rejected_total"`    // calls refused while open
	Opened               int64     `json:"opened_total"`      // times it opened
	Transitions          int64     `json:"transitions_total"` // state changes
	Since                time.Time `json:"since"`             // last state change (or creation)
	LastError            string    `json:"last_error,omitempty"`
}

// Stats returns a snapshot of b.
func (b *Breaker) Stats() Stats {
	c := b.cb.Counts()
	s := Stats{
		Name: b.name, State: b.State(), Critical: b.critical,
		Requests: c.Requests, Successes: c.TotalSuccesses, Failures: c.TotalFailures,
		ConsecutiveFailures: c.ConsecutiveFailures, ConsecutiveSuccesses: c.ConsecutiveSuccesses,
		Rejected: b.rejected.Load(), Opened: b.opened.Load(), Transitions: b.transitions.Load(),
		Since: time.Unix(0, b.changed.Load()).UTC(),
	}
	if e := b.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// StateValue maps a state to a gauge value: closed 0, half-open 1, open 2.
func StateValue(state string) float64 {
	switch state {
	case StateHalfOpen:
		return 1
	case StateOpen:
		return 2
	}
	return 0
}

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	}
	return StateClosed
}

// Group holds the breakers of one process by name. The zero value is not
// usable; call NewGroup.
type Group struct {
	defaults Options
	mu       sync.Mutex
	byName   map[string]*Breaker
	order    []string
}

// NewGroup returns an empty group whose Get creates breakers with
// defaults.
func NewGroup(defaults Options) *Group {
	return &Group{defaults: defaults, byName: map[string]*Breaker{}}
}

// Get returns the breaker called name, creating it with the group's
// defaults. A nil Group returns nil, and a nil *Breaker is a no-op guard
// (see Do/Allow on nil).
func (g *Group) Get(name string) *Breaker { return g.GetWith(name, g.defaultsOrZero()) }

func (g *Group) defaultsOrZero() Options {
	if g == nil {
		return Options{}
	}
	return g.defaults
}

// GetWith returns the breaker called name, creating it with o when new.
func (g *Group) GetWith(name string, o Options) *Breaker {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if b := g.byName[name]; b != nil {
		return b
	}
	if o.Logger == nil {
		o.Logger = g.defaults.Logger
	}
	b := New(name, o)
	g.byName[name] = b
	g.order = append(g.order, name)
	return b
}

// Stats returns the stats of every breaker, in creation order.
func (g *Group) Stats() []Stats {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	bs := make([]*Breaker, 0, len(g.order))
	for _, n := range g.order {
		bs = append(bs, g.byName[n])
	}
	g.mu.Unlock()
	out := make([]Stats, len(bs))
	for i, b := range bs {
		out[i] = b.Stats()
	}
	return out
}

// Check is a health check: it fails while a critical breaker is open,
// naming it. Open non-critical breakers are reported by Stats only.
func (g *Group) Check(context.Context) error {
	var open []string
	for _, s := range g.Stats() {
		if s.Critical && s.State == StateOpen {
			open = append(open, s.Name)
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("circuit open: %v", open)
	}
	return nil
}

// Summary maps each breaker's name to its state, for a health detail.
func (g *Group) Summary() map[string]string {
	m := map[string]string{}
	for _, s := range g.Stats() {
		m[s.Name] = s.State
	}
	return m
}
