package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is one embedded NATS server. Create it with New, then Start it.
// All methods are safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	ns      *server.Server
	ready   chan struct{} // closed once Start succeeded
	started atomic.Bool
	stopped atomic.Bool
}

// New validates opts and builds the server without starting anything.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("nats options: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sopts, err := opts.serverOptions()
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	ns.SetLoggerV2(slogAdapter{log}, opts.Debug, false, false)
	return &Server{opts: opts, log: log, ns: ns, ready: make(chan struct{})}, nil
}

func (o *Options) serverOptions() (*server.Options, error) {
	so := &server.Options{
		ServerName:         o.Name,
		NoSigs:             true,
		JetStream:          o.JetStream,
		StoreDir:           o.StoreDir,
		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxStore,
		LameDuckDuration:   o.LameDuckDuration,
		MaxPayload:         o.MaxPayload,
		Debug:              o.Debug,
	}
	if so.LameDuckDuration > 0 {
		// nats-server waits this long before closing the first client;
		// keep it short relative to the lame duck period.
		so.LameDuckGracePeriod = min(o.LameDuckDuration/4, 10*time.Second)
	}
	if o.Listen == "" {
		so.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		so.Host, so.Port = host, port
	}
	if o.ClusterListen != "" {
		host, port, err := splitHostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster listen: %w", err)
		}
		so.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: host, Port: port}
		for _, r := range o.Routes {
			so.Routes = append(so.Routes, server.RoutesFromStr(r)...)
		}
	}
	return so, nil
}

// Start starts the server and returns once it accepts connections (and
// JetStream is enabled, when asked), or with an error naming what failed.
// Without a ctx deadline it waits at most DefaultReadyTimeout.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("nats server: already started")
	}
	begin := time.Now()
	s.ns.Start()
	wait := DefaultReadyTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !s.ns.ReadyForConnections(wait) {
		s.ns.Shutdown()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("nats server not ready: %w", err)
		}
		return fmt.Errorf("nats server not ready after %s", wait)
	}
	if s.opts.JetStream && !s.ns.JetStreamEnabled() {
		s.ns.Shutdown()
		return fmt.Errorf("nats server: jetstream did not start (store %s)", s.opts.StoreDir)
	}
	close(s.ready)
	attrs := []any{"name", s.ns.Name(), "jetstream", s.opts.JetStream, "duration", time.Since(begin)}
	if s.opts.Listen != "" {
		attrs = append(attrs, "url", s.ClientURL())
	} else {
		attrs = append(attrs, "listen", "in-process only")
	}
	s.log.Info("nats server ready", attrs...)
	return nil
}

// Ready is closed once Start succeeded.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Shutdown stops the server, flushing JetStream to disk. With a lame duck
// duration and a TCP listener it first enters lame-duck mode. It is
// idempotent and bounded by ctx; a server that never started is a no-op.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() || !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s.opts.LameDuckDuration > 0 && s.opts.Listen != "" {
			s.ns.LameDuckShutdown()
		} else {
			s.ns.Shutdown()
		}
		s.ns.WaitForShutdown()
	}()
	select {
	case <-done:
		s.log.Info("nats server stopped")
		return nil
	case <-ctx.Done():
		// Cut lame duck short; Shutdown is safe to call again.
		s.ns.Shutdown()
		return fmt.Errorf("nats server shutdown: %w", context.Cause(ctx))
	}
}

// InProcessConn returns a client connection that does not touch the
// network; it makes *Server a nats.go InProcessConnProvider.
func (s *Server) InProcessConn() (net.Conn, error) { return s.ns.InProcessConn() }

// ClientURL is the URL for TCP clients, or "" when the server does not listen.
func (s *Server) ClientURL() string {
	if s.opts.Listen == "" {
		return ""
	}
	return s.ns.ClientURL()
}

// Name is the server name (the server ID unless Options.Name was set).
func (s *Server) Name() string { return s.ns.Name() }

// JetStreamEnabled reports whether JetStream runs on this server.
func (s *Server) JetStreamEnabled() bool { return s.ns.JetStreamEnabled() }

// NumClients is the number of connected clients, for health reports.
func (s *Server) NumClients() int { return s.ns.NumClients() }

// Running reports whether the server is running.
func (s *Server) Running() bool { return s.ns.Running() }

// slogAdapter sends nats-server log lines to slog. The server's chatty
// startup notices go to debug; warnings and errors keep their level.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }

// Check reports whether the server is running (with JetStream when
// enabled), for health reports.
func (s *Server) Check(context.Context) error {
	if !s.ns.Running() {
		return errors.New("not running")
	}
	if s.opts.JetStream && !s.ns.JetStreamEnabled() {
		return errors.New("jetstream disabled")
	}
	return nil
}
