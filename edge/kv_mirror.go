package edge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// kvMirror keeps an edge-local view of one JetStream KV bucket: ensure
// opens the bucket and starts one watcher (on first use: New opens
// nothing), returning once the initial values are applied; every entry,
// initial or later, goes to apply on the watcher goroutine; close stops
// the watcher and waits for it. API keys (auth.go) and deployed projects
// (projects.go) use it.
type kvMirror struct {
	nc     *nats.Conn
	bucket string
	open   func(context.Context, jetstream.JetStream) (jetstream.KeyValue, error)
	apply  func(jetstream.KeyValueEntry)

	life   context.Context // ends at close; parent of the watcher
	cancel context.CancelFunc

	mu      sync.Mutex // guards started and done; held while the watcher starts
	started bool
	done    chan struct{} // closed when the watcher goroutine ends
}

func newKVMirror(nc *nats.Conn, bucket string, open func(context.Context, jetstream.JetStream) (jetstream.KeyValue, error), apply func(jetstream.KeyValueEntry)) *kvMirror {
	m := &kvMirror{nc: nc, bucket: bucket, open: open, apply: apply}
	m.life, m.cancel = context.WithCancel(context.Background())
	return m
}

// ensure starts the watcher once and waits for the initial values.
func (m *kvMirror) ensure(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return nil
	}
	if m.nc == nil {
		return errors.New("no mesh connection")
	}
	if m.life.Err() != nil {
		return errors.New("edge shutting down")
	}
	js, err := jetstream.New(m.nc)
	if err != nil {
		return err
	}
	kv, err := m.open(ctx, js)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(m.life)
	if err != nil {
		return fmt.Errorf("watch %s: %w", m.bucket, err)
	}
	ready := make(chan struct{})
	m.done = make(chan struct{})
	go m.watch(w, ready)
	select {
	case <-ready:
	case <-ctx.Done():
		_ = w.Stop()
		<-m.done
		return ctx.Err()
	}
	m.started = true
	return nil
}

func (m *kvMirror) watch(w jetstream.KeyWatcher, ready chan struct{}) {
	defer close(m.done)
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case e, ok = <-w.Updates():
		case <-m.life.Done():
			return
		}
		if !ok {
			return
		}
		if e == nil { // end of the initial values
			if initial {
				initial = false
				close(ready)
			}
			continue
		}
		m.apply(e)
	}
}

// close stops the watcher and waits for it; ensure fails afterwards.
func (m *kvMirror) close() {
	m.cancel()
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	if done != nil {
		<-done
	}
}
