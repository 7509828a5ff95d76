package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// natsConn is a client connection as a component: Start connects,
// Shutdown drains (pending replies and subscriptions finish) then closes.
type natsConn struct {
	connect func(opts ...nats.Option) (*nats.Conn, error)
	log     *slog.Logger
	nc      atomic.Pointer[nats.Conn]
	closed  chan struct{}
	ready   chan struct{}
}

func newNATSConn(connect func(opts ...nats.Option) (*nats.Conn, error), log *slog.Logger) *natsConn {
	return &natsConn{connect: connect, log: log, closed: make(chan struct{}), ready: make(chan struct{})}
}

func (c *natsConn) Start(ctx context.Context) error {
	nc, err := c.connect(
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { c.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			c.log.Error("nats async error", "subject", subj, "err", err)
		}),
	)
	if err != nil {
		return err
	}
	c.nc.Store(nc)
	close(c.ready)
	return nil
}

// Conn returns the connection; nil before Start.
func (c *natsConn) Conn() *nats.Conn { return c.nc.Load() }

func (c *natsConn) Ready() <-chan struct{} { return c.ready }

func (c *natsConn) Check(context.Context) error {
	nc := c.nc.Load()
	if nc == nil {
		return errors.New("not connected")
	}
	if s := nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("connection %s", s)
	}
	return nil
}

func (c *natsConn) Shutdown(ctx context.Context) error {
	nc := c.nc.Load()
	if nc == nil || nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		nc.Close()
		return fmt.Errorf("nats drain: %w", err)
	}
	select {
	case <-c.closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("nats drain: %w", context.Cause(ctx))
	}
}

// placeholder stands in for a role whose real component a later issue
// builds. It is ready at once and reports healthy.
type placeholder struct {
	name  string
	log   *slog.Logger
	ready chan struct{}
	once  atomic.Bool
}

func newPlaceholder(name string, log *slog.Logger) *placeholder {
	return &placeholder{name: name, log: log, ready: make(chan struct{})}
}

func (p *placeholder) Start(context.Context) error {
	if p.once.CompareAndSwap(false, true) {
		p.log.Debug("placeholder component started; the real one comes with a later issue", "component", p.name)
		close(p.ready)
	}
	return nil
}

func (p *placeholder) Shutdown(context.Context) error { return nil }
func (p *placeholder) Ready() <-chan struct{}         { return p.ready }
