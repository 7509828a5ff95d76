package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake records Start/Shutdown calls in a shared journal.
type fake struct {
	name     string
	journal  *journal
	startErr error
	ready    chan struct{}
	failed   chan error
	stopWait time.Duration // simulated drain
}

type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.log)
}

func newFake(name string, j *journal) *fake {
	return &fake{name: name, journal: j, ready: make(chan struct{}), failed: make(chan error, 1)}
}

func (f *fake) Start(context.Context) error {
	f.journal.add("start " + f.name)
	if f.startErr != nil {
		return f.startErr
	}
	close(f.ready)
	return nil
}

func (f *fake) Shutdown(ctx context.Context) error {
	select {
	case <-time.After(f.stopWait):
	case <-ctx.Done():
		return ctx.Err()
	}
	f.journal.add("stop " + f.name)
	return nil
}

func (f *fake) Ready() <-chan struct{} { return f.ready }
func (f *fake) Failed() <-chan error   { return f.failed }

func newLifecycle(units ...*fake) *lifecycle {
	l := &lifecycle{log: slog.New(slog.DiscardHandler)}
	for _, u := range units {
		l.units = append(l.units, unit{u.name, u})
	}
	return l
}

func TestLifecycleOrder(t *testing.T) {
	j := &journal{}
	l := newLifecycle(newFake("nats", j), newFake("registry", j), newFake("executor", j), newFake("edge", j))
	if err := l.Start(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start nats", "start registry", "start executor", "start edge",
		"stop edge", "stop executor", "stop registry", "stop nats"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
	if err := l.Shutdown(t.Context()); err != nil || len(j.get()) != len(want) {
		t.Error("second Shutdown stopped something again")
	}
}

// TestLifecycleStartFailure: a later component failing to start shuts
// down the started ones in reverse; the failed one and later ones are not
// touched.
func TestLifecycleStartFailure(t *testing.T) {
	j := &journal{}
	bad := newFake("executor", j)
	bad.startErr = errors.New("boom")
	l := newLifecycle(newFake("nats", j), newFake("registry", j), bad, newFake("edge", j))
	err := l.Start(t.Context(), time.Second)
	if err == nil || err.Error() != "start executor: boom" {
		t.Fatalf("err = %v", err)
	}
	want := []string{"start nats", "start registry", "start executor", "stop registry", "stop nats"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
}

// TestLifecycleDrainBounded: shutdown waits for a draining component, and
// a context deadline bounds it, reporting which one overran.
func TestLifecycleDrainBounded(t *testing.T) {
	j := &journal{}
	slow := newFake("executor", j)
	slow.stopWait = 50 * time.Millisecond
	l := newLifecycle(newFake("nats", j), slow)
	if err := l.Start(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := j.get(); !slices.Equal(got, []string{"start nats", "start executor", "stop executor", "stop nats"}) {
		t.Errorf("drain order %v", got)
	}

	j2 := &journal{}
	stuck := newFake("executor", j2)
	stuck.stopWait = time.Hour
	l = newLifecycle(newFake("nats", j2), stuck)
	_ = l.Start(t.Context(), time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := l.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shutdown executor") {
		t.Errorf("err = %v", err)
	}
}

func TestLifecycleFailed(t *testing.T) {
	j := &journal{}
	a, b := newFake("nats", j), newFake("edge", j)
	l := newLifecycle(a, b)
	_ = l.Start(t.Context(), time.Second)
	ch := l.Failed()
	b.failed <- errors.New("serve died")
	select {
	case err := <-ch:
		if err.Error() != "edge: serve died" {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("failure not delivered")
	}
}
