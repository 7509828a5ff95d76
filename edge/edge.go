package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Defaults used for zero fields of Options.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultBodyLimit    = 4 << 20
	DefaultGrace        = 15 * time.Second
)

// ErrGraceExpired is the cause of the shutdown context when in-flight
// requests did not finish within Options.Grace.
var ErrGraceExpired = errors.New("edge grace period expired")

// Options configures a Server. Zero fields take the Default* values.
type Options struct {
	Addr          string        // listen address "host:port"; port 0 picks a free port
	ReadTimeout   time.Duration // whole request read, against slow clients
	WriteTimeout  time.Duration // response write
	IdleTimeout   time.Duration // keep-alive idle connections
	BodyLimit     int           // largest request body, bytes (413 above it)
	ShutdownDelay time.Duration // report not ready this long before closing the listener; 0 = none
	Grace         time.Duration // bound on finishing in-flight requests at shutdown
	AccessLog     bool          // log one line per request at info (5xx always logged)
	HealthOnly    bool          // serve only health and info (executor, registry and nats roles)
	Pprof         bool          // serve net/http/pprof under PprofPrefix (debug.go); off by default

	Logger    *slog.Logger                             // or nil to discard
	Conn      *nats.Conn                               // mesh connection for handlers; or nil
	Info      Info                                     // build and node facts for /api/v1/info
	InfoExtra func(ctx context.Context) map[string]any // extra /api/v1/info fields; or nil
	Checks    []Check                                  // component health checks, in display order
	Execute   ExecuteOptions                           // execution API (execute.go); zero fields take defaults
	Jobs      JobsOptions                              // jobs, DLQ, audit query, Idempotency-Key (jobs*.go)
	Routes    []func(r fiber.Router)                   // extra routes mounted after the API (not with HealthOnly); e.g. console.Mount
	Protect   ProtectOptions                           // validation, rate limits, API keys, signing, CORS, TLS (auth*.go)

	// AccessLogger writes the access log lines (one per request when
	// AccessLog is on, 5xx always); nil means Logger. It gets no
	// redaction wrapper: the access line's one client-controlled string
	// that could carry a secret, the path, is redacted by the edge.
	AccessLogger *slog.Logger

	// Telemetry (observe*.go): each nil/empty field turns its part off.
	Metrics    prometheus.Registerer // HTTP and NATS round-trip metrics; or nil
	Gatherer   prometheus.Gatherer   // served at /metrics and /api/v1/metrics; or nil
	Tracer     trace.TracerProvider  // spans per request and NATS hop; or nil (zero cost)
	AdminToken string                // bearer token of /debug/*; "" = loopback clients only
	Debug      map[string]DebugFunc  // extra /debug/vars sections (pool state, caches); or nil
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.BodyLimit == 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AccessLogger == nil {
		o.AccessLogger = o.Logger
	}
	return o
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr: %w", err))
	}
	for name, d := range map[string]time.Duration{
		"read timeout": o.ReadTimeout, "write timeout": o.WriteTimeout, "idle timeout": o.IdleTimeout,
		"shutdown delay": o.ShutdownDelay, "grace": o.Grace,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if o.BodyLimit < 0 {
		errs = append(errs, errors.New("body limit must not be negative"))
	}
	if err := o.Protect.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, c := range o.Checks {
		if c.Name == "" || c.Func == nil {
			errs = append(errs, fmt.Errorf("check %d needs a name and a func", i))
		}
	}
	return errors.Join(errs...)
}

// Server is the edge HTTP server. Create it with New.
type Server struct {
	opts Options
	log  *slog.Logger
	// access writes the access log (Options.AccessLogger) without the
	// redaction wrapper: its attributes are built by accessLog alone,
	// which redacts the one client-controlled string that could carry a
	// secret (the path).
	access *slog.Logger
	app    *fiber.App

	ready    chan struct{} // closed once the listener is open
	failed   chan error    // receives a serve error after Start; buffered 1
	draining atomic.Bool   // set when Shutdown begins: readiness turns 503
	started  atomic.Bool
	stopped  atomic.Bool
	addr     atomic.Pointer[net.Addr]
	ln       net.Listener   // closed by Shutdown too: see there
	ids      *idGen         // request ids (requestid.go)
	wg       sync.WaitGroup // the serve goroutine

	tel *telemetry // metrics and tracing (observe.go); nil when both are off

	hooksMu       sync.Mutex // guards shutdownHooks
	shutdownHooks []func()   // run by Shutdown, in order (see onShutdown)

	guard *guard // security middleware (auth_guard.go)

	adminToken atomic.Pointer[string] // replaces Options.AdminToken once set (SetAdminToken, observe_http.go)
}

// New validates opts and builds the Fiber app and routes. It opens nothing.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("edge options: %w", err)
	}
	opts.Protect = opts.Protect.withDefaults()
	opts.Logger = redactLogger(opts.Logger, opts.Protect.RedactFields)
	s := &Server{
		opts:   opts,
		log:    opts.Logger,
		access: opts.AccessLogger,
		ready:  make(chan struct{}),
		failed: make(chan error, 1),
		ids:    newIDGen(),
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "avap",
		DisableStartupMessage: true,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		IdleTimeout:           opts.IdleTimeout,
		BodyLimit:             opts.BodyLimit,
		ErrorHandler:          s.handleError,
		ReadBufferSize:        opts.Protect.MaxHeaderBytes,
	})
	s.guard = newGuard(s)
	tel, err := newTelemetry(opts)
	if err != nil {
		return nil, fmt.Errorf("edge metrics: %w", err)
	}
	s.tel = tel
	s.routes()
	s.tel.resolveRoutes(s.app)
	return s, nil
}

// App returns the Fiber app, for tests (app.Test) and for route files of
// this package.
func (s *Server) App() *fiber.App { return s.app }

// Start opens the listener and serves in the background. It returns once
// the listener is open, or with the listen error.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("edge: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("edge listen: %w", err)
	}
	if ln, err = tlsListener(ln, s.opts.Protect); err != nil {
		return err
	}
	ln = capConns(ln, s.opts.Protect.MaxConnsPerIP) // not fasthttp's MaxConnsPerIP: see ratelimit_conn.go
	if err := s.guard.start(); err != nil {
		_ = ln.Close()
		return err
	}
	a := ln.Addr()
	s.addr.Store(&a)
	s.ln = ln
	s.wg.Go(func() {
		if err := s.app.Listener(ln); err != nil && !s.stopped.Load() {
			s.failed <- fmt.Errorf("edge serve: %w", err)
		}
	})
	close(s.ready)
	s.log.Info("edge listening", "addr", a.String())
	return nil
}

// Addr is the bound listen address, or nil before Start.
func (s *Server) Addr() net.Addr {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return nil
}

// Ready is closed once the listener is open.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Failed delivers an error if serving stops on its own after Start.
func (s *Server) Failed() <-chan error { return s.failed }

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Shutdown drains the server: readiness turns 503 at once, the listener
// stays open for ShutdownDelay (so load balancers notice), then it closes
// and in-flight requests get up to Grace (and ctx) to finish. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	defer s.runShutdownHooks()
	if !s.started.Load() || !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if d := s.opts.ShutdownDelay; d > 0 {
		s.log.Info("edge draining", "delay", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	sctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), s.opts.Grace, ErrGraceExpired)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var c2 context.CancelFunc
		sctx, c2 = context.WithDeadlineCause(sctx, dl, context.Cause(ctx))
		defer c2()
	}
	err := s.app.ShutdownWithContext(sctx)
	// fasthttp's Shutdown only stops a Serve that has already registered
	// its listener: when Shutdown follows Start closely (the serve
	// goroutine not yet in Serve), Serve would accept forever and Wait
	// would hang. Closing the listener ends it either way.
	_ = s.ln.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("edge shutdown: %w", context.Cause(sctx))
	}
	s.log.Info("edge stopped")
	return nil
}
