package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// component is the lifecycle contract of every long-lived part of a node
// (STYLE.md 2.6): Start returns once ready or with an error; Shutdown is
// idempotent, bounded by ctx and waits for the component's goroutines.
type component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
	Ready() <-chan struct{}
}

// failer is implemented by components that can fail after Start (a serve
// loop ending on its own).
type failer interface {
	Failed() <-chan error
}

// checker is implemented by components with their own health check;
// others are healthy once Ready is closed.
type checker interface {
	Check(ctx context.Context) error
}

// unit is a named component of a lifecycle.
type unit struct {
	name string
	c    component
}

// lifecycle starts units in order and stops the started ones in reverse.
type lifecycle struct {
	log     *slog.Logger
	units   []unit
	started int // units[:started] have started
}

// Start starts every unit in order. If one fails, the ones already started
// are shut down (bounded by stopTimeout) and the error names the unit.
func (l *lifecycle) Start(ctx context.Context, stopTimeout time.Duration) error {
	for i, u := range l.units {
		t0 := time.Now()
		if err := u.c.Start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			defer cancel()
			if serr := l.Shutdown(sctx); serr != nil {
				l.log.Error("shutdown after failed start", "err", serr)
			}
			return fmt.Errorf("start %s: %w", u.name, err)
		}
		l.started = i + 1
		l.log.Debug("component started", "component", u.name, "duration", time.Since(t0))
	}
	return nil
}

// Shutdown stops the started units in reverse order, each bounded by ctx,
// and joins their errors. Safe to call more than once.
func (l *lifecycle) Shutdown(ctx context.Context) error {
	var errs []error
	for i := l.started - 1; i >= 0; i-- {
		u := l.units[i]
		t0 := time.Now()
		if err := u.c.Shutdown(ctx); err != nil {
			l.log.Error("component shutdown failed", "component", u.name, "err", err)
			errs = append(errs, fmt.Errorf("shutdown %s: %w", u.name, err))
			continue
		}
		l.log.Debug("component stopped", "component", u.name, "duration", time.Since(t0))
	}
	l.started = 0
	return errors.Join(errs...)
}

// Failed merges the Failed channels of the units; it delivers the first
// failure of any of them.
func (l *lifecycle) Failed() <-chan error {
	out := make(chan error, len(l.units))
	for _, u := range l.units {
		if f, ok := u.c.(failer); ok {
			ch := f.Failed()
			if ch == nil {
				continue
			}
			go func() {
				if err, ok := <-ch; ok && err != nil {
					out <- fmt.Errorf("%s: %w", u.name, err)
				}
			}()
		}
	}
	return out
}

// check is the health check of u: its own Check, or readiness.
func (u unit) check(ctx context.Context) error {
	if c, ok := u.c.(checker); ok {
		return c.Check(ctx)
	}
	select {
	case <-u.c.Ready():
		return nil
	default:
		return errors.New("starting")
	}
}
