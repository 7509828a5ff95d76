package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/vm"
)

// Defaults of HostOptions.
const (
	DefaultHTTPTimeout      = 30 * time.Second // per RequestGet/RequestPost, within the run's deadline
	DefaultMaxResponseBytes = 8 << 20
	DefaultMaxRedirects     = 10
	DefaultStatementTimeout = 30 * time.Second // per SQL statement, within the run's deadline
	DefaultMaxConns         = 8
)

// HostOptions configure a Host.
type HostOptions struct {
	Logger *slog.Logger // or nil to discard

	// Egress bounds RequestGet and RequestPost.
	Egress EgressOptions

	// Connectors are the SQL connectors scripts may name
	// (avapConnector("name")); DSNs stay on the server.
	Connectors map[string]ConnectorOptions
	// DefaultConnector is the connector of ormDirect, ormCheckTable and
	// ormAccess*; "" = the only connector when there is exactly one.
	DefaultConnector string

	// Breakers guards RequestGet/RequestPost with one circuit breaker per
	// destination host, named "http:<host>" (host_breaker.go); or nil.
	Breakers *breaker.Group
	// Breaker configures those breakers (zero fields: breaker defaults);
	// refusals by the egress policy never count as failures.
	Breaker breaker.Options
}

// EgressOptions configure the HTTP client of RequestGet and RequestPost.
type EgressOptions struct {
	Allow            []string      // see EgressPolicy; empty = any public address
	Timeout          time.Duration // per call; 0 = DefaultHTTPTimeout
	MaxResponseBytes int64         // larger bodies fail; 0 = DefaultMaxResponseBytes
	MaxRedirects     int           // 0 = DefaultMaxRedirects; < 0 = none followed
	Resolver         Resolver      // or nil for net.DefaultResolver (tests point names at local servers)
}

// ConnectorOptions configure one SQL connector (PostgreSQL).
type ConnectorOptions struct {
	DSN              string        // connection string; a secret, never logged
	ReadOnly         bool          // every statement runs in a READ ONLY transaction
	StatementTimeout time.Duration // per statement; 0 = DefaultStatementTimeout (always within the run's deadline)
	MaxConns         int32         // pool size; 0 = DefaultMaxConns
	// BeforeConnect adjusts the config of each new connection of the
	// pool (cmd/avap sets a password rotated on reload); or nil.
	// Connections already open keep theirs until recycled (pgx's
	// MaxConnLifetime, 1h, or pool_max_conn_lifetime in the DSN).
	BeforeConnect func(context.Context, *pgx.ConnConfig) error
}

// Host implements the commands that leave the process (vm.Host):
// RequestGet and RequestPost through one pooled HTTP client behind the
// egress policy, the SQL commands on named PostgreSQL connectors, and
// registerEndpoint (a no-op at run time: routes are read from the source
// when a project is deployed). It is safe for concurrent use; Call grants
// every capability, WithCapabilities restricts a run.
type Host struct {
	log        *slog.Logger
	opts       HostOptions
	policy     *EgressPolicy
	client     *http.Client
	defaultSQL string

	mu     sync.Mutex // guards pools and closed
	pools  map[string]*pgxpool.Pool
	closed bool
}

// NewHost validates opts and builds a Host. It opens no connection:
// database pools are created on first use.
func NewHost(opts HostOptions) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &opts.Egress
	if e.Timeout <= 0 {
		e.Timeout = DefaultHTTPTimeout
	}
	if e.MaxResponseBytes <= 0 {
		e.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if e.MaxRedirects == 0 {
		e.MaxRedirects = DefaultMaxRedirects
	}
	if e.Resolver == nil {
		e.Resolver = net.DefaultResolver
	}
	var errs []error
	policy, err := NewEgressPolicy(e.Allow)
	if err != nil {
		errs = append(errs, err)
	}
	names := make([]string, 0, len(opts.Connectors))
	for name, c := range opts.Connectors {
		names = append(names, name)
		if !validConnectorName(name) {
			errs = append(errs, fmt.Errorf("connector %q: name must be 1-64 letters, digits, '_' or '-'", name))
		}
		if c.DSN == "" {
			errs = append(errs, fmt.Errorf("connector %q: dsn is empty", name))
		} else if _, err := pgxpool.ParseConfig(c.DSN); err != nil {
			errs = append(errs, fmt.Errorf("connector %q: bad dsn", name)) // the error may quote the secret
		}
		if c.StatementTimeout < 0 || c.MaxConns < 0 {
			errs = append(errs, fmt.Errorf("connector %q: negative statement_timeout or max_conns", name))
		}
	}
	sort.Strings(names)
	def := opts.DefaultConnector
	if def == "" && len(names) == 1 {
		def = names[0]
	}
	if _, ok := opts.Connectors[def]; def != "" && !ok {
		errs = append(errs, fmt.Errorf("default connector %q is not configured", def))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("executor host: %w", errors.Join(errs...))
	}
	h := &Host{log: opts.Logger, opts: opts, policy: policy, defaultSQL: def, pools: map[string]*pgxpool.Pool{}}
	h.client = h.newHTTPClient()
	return h, nil
}

func validConnectorName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Close closes the database pools and idle HTTP connections.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	pools := h.pools
	h.pools = map[string]*pgxpool.Pool{}
	h.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
	h.client.CloseIdleConnections()
}

// Call implements vm.Host with every capability granted.
func (h *Host) Call(ctx context.Context, command string, args []vm.Value) (vm.Value, error) {
	return h.call(ctx, 0, command, args)
}

// WithCapabilities returns the Host of one run limited to caps (0 = all).
func (h *Host) WithCapabilities(caps bus.Capability) vm.Host {
	if caps == 0 {
		return h
	}
	return &runHost{h: h, caps: caps}
}

// CapabilityHost is a vm.Host that can be restricted per run; the executor
// applies bus.Request.Capabilities through it.
type CapabilityHost interface {
	vm.Host
	WithCapabilities(bus.Capability) vm.Host
}

type runHost struct {
	h    *Host
	caps bus.Capability
}

func (r *runHost) Call(ctx context.Context, command string, args []vm.Value) (vm.Value, error) {
	return r.h.call(ctx, r.caps, command, args)
}

// ErrCapability is wrapped by the error of a command the run may not use.
var ErrCapability = errors.New("capability not granted")

func need(caps, c bus.Capability, what string) error {
	if caps.Has(c) {
		return nil
	}
	return fmt.Errorf("%w: this request may not use %s", ErrCapability, what)
}

func arg(args []vm.Value, i int) vm.Value {
	if i < len(args) {
		return args[i]
	}
	return vm.None
}

func (h *Host) call(ctx context.Context, caps bus.Capability, command string, args []vm.Value) (vm.Value, error) {
	switch command {
	case "RequestGet", "RequestPost":
		if err := need(caps, bus.CapHTTP, "HTTP requests"); err != nil {
			return vm.None, err
		}
		if command == "RequestGet" {
			return h.requestGet(ctx, arg(args, 0), arg(args, 1), arg(args, 2))
		}
		return h.requestPost(ctx, arg(args, 0), arg(args, 1), arg(args, 2), arg(args, 3))
	case "avapConnector", "ormDirect", "ormCheckTable", "ormAccessSelect", "ormAccessInsert", "ormAccessUpdate":
		if err := need(caps, bus.CapSQL, "database connectors"); err != nil {
			return vm.None, err
		}
		return h.sqlCommand(ctx, command, args)
	case "registerEndpoint":
		// Routes come from the source when a project is deployed; at run
		// time the call only checks its arguments.
		return vm.None, checkRegistration(args)
	}
	if len(command) > 1 && command[0] == '.' {
		if _, ok := connectorOf(arg(args, 0)); ok {
			if err := need(caps, bus.CapSQL, "database connectors"); err != nil {
				return vm.None, err
			}
			return h.connectorMethod(ctx, command[1:], args[0], args[1:])
		}
		return vm.None, fmt.Errorf("%s() is not a method of this value", command[1:])
	}
	return vm.None, fmt.Errorf("%w: %s", vm.ErrUnknownCommand, command)
}

func checkRegistration(args []vm.Value) error {
	if arg(args, 0).Kind() != vm.KindString || arg(args, 1).Kind() != vm.KindString {
		return errors.New("registerEndpoint needs a path and a method")
	}
	return nil
}
