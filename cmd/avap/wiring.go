package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/edge"
)

// wiring is what a role constructor (wire_*.go) receives from the node:
// everything a component may depend on, built by cmd/avap.
type wiring struct {
	Log    *slog.Logger  // component logger (already has "component")
	Conn   *nats.Conn    // mesh connection; in-process under serve; nil for the nats role
	Config *configHolder // Current() per operation; OnReload to apply reloadable fields
	NodeID string        // this node's id
	Build  buildInfo     // version, commit, date
	Roles  []string      // roles this process plays
	Start  time.Time     // process start
	Checks []edge.Check  // edge only: health checks of the node's other components
	Tel    *telemetry    // metrics registry and tracer provider (telemetry.go); parts may be off

	// AccessLog is the edge's access log: Log's outputs with a faster
	// line writer (logging_access.go).
	AccessLog *slog.Logger

	Breakers *breaker.Group // this process's circuit breakers (mesh.go)
}

// info is what /api/v1/info reports about this node.
func (w wiring) info() edge.Info {
	return edge.Info{
		Name:      "avap",
		Version:   w.Build.Version,
		Commit:    w.Build.Commit,
		BuildDate: w.Build.Date,
		GoVersion: w.Build.GoVersion,
		NodeID:    w.NodeID,
		Roles:     w.Roles,
		StartTime: w.Start,
	}
}

// deferred builds its component when its turn to start comes, so that a
// constructor can use what earlier components provide (the NATS
// connection exists only after the connection unit started).
type deferred struct {
	build func() (component, error)
	c     component
	ready chan struct{}
}

func newDeferred(build func() (component, error)) *deferred {
	return &deferred{build: build, ready: make(chan struct{})}
}

func (d *deferred) Start(ctx context.Context) error {
	if d.c != nil {
		return errors.New("already started")
	}
	c, err := d.build()
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	d.c = c
	close(d.ready)
	return nil
}

func (d *deferred) Shutdown(ctx context.Context) error {
	if d.c == nil {
		return nil
	}
	return d.c.Shutdown(ctx)
}

func (d *deferred) Ready() <-chan struct{} { return d.ready }

func (d *deferred) Failed() <-chan error {
	if f, ok := d.c.(failer); ok {
		return f.Failed()
	}
	return nil
}

func (d *deferred) Check(ctx context.Context) error {
	if d.c == nil {
		return errors.New("starting")
	}
	return unit{c: d.c}.check(ctx)
}
