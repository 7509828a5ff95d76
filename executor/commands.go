package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
)

// CommandStore holds the source of named scripts, stored by
// POST /api/v1/compile and run by {"command": name}. Implementations are
// safe for concurrent use. (The registry makes this durable and signed
// later; this is the interface it will satisfy.)
type CommandStore interface {
	// Get returns the source and revision of name, or ErrCommandNotFound.
	Get(ctx context.Context, name string) (src []byte, rev uint64, err error)
	// Put stores src under name and returns the new revision.
	Put(ctx context.Context, name string, src []byte) (rev uint64, err error)
}

// MaxCommandNameLen bounds the length of a command name.
const MaxCommandNameLen = 128

// ValidCommandName reports whether name can name a stored script: 1 to
// MaxCommandNameLen letters, digits, '_', '-' or inner '.'.
func ValidCommandName(name string) error {
	if name == "" || len(name) > MaxCommandNameLen || name[0] == '.' || name[len(name)-1] == '.' {
		return fmt.Errorf("%w: %q", ErrInvalidCommandName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%w: %q", ErrInvalidCommandName, name)
		}
	}
	return nil
}

// MemoryCommands is a CommandStore in process memory, for a single node
// without JetStream and for tests.
type MemoryCommands struct {
	mu  sync.RWMutex // guards m and rev
	m   map[string]memEntry
	rev uint64
}

type memEntry struct {
	src []byte
	rev uint64
}

// NewMemoryCommands returns an empty MemoryCommands.
func NewMemoryCommands() *MemoryCommands { return &MemoryCommands{m: make(map[string]memEntry)} }

// Get implements CommandStore.
func (s *MemoryCommands) Get(_ context.Context, name string) ([]byte, uint64, error) {
	s.mu.RLock()
	e, ok := s.m[name]
	s.mu.RUnlock()
	if !ok {
		return nil, 0, fmt.Errorf("%w: %q", ErrCommandNotFound, name)
	}
	return e.src, e.rev, nil
}

// Put implements CommandStore.
func (s *MemoryCommands) Put(_ context.Context, name string, src []byte) (uint64, error) {
	if err := ValidCommandName(name); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
	s.m[name] = memEntry{src: append([]byte(nil), src...), rev: s.rev}
	return s.rev, nil
}

// kvCommands is a CommandStore over the JetStream KV bucket
// bus.CommandsBucket with an in-memory L1 kept current by a watcher, so a
// run of a named script does not wait for JetStream.
type kvCommands struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu sync.RWMutex // guards l1
	l1 map[string]memEntry

	stop func()
	done chan struct{}
}

// openKVCommands creates (or opens) the bucket and starts its watcher.
func openKVCommands(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*kvCommands, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bus.CommandsBucket,
		Replicas:    bus.Replicas(js.Conn()),
		Description: "AVAP named scripts (source)",
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", bus.CommandsBucket, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch kv bucket %s: %w", bus.CommandsBucket, err)
	}
	s := &kvCommands{kv: kv, log: log, l1: make(map[string]memEntry), stop: cancel, done: make(chan struct{})}
	go s.watch(w)
	return s, nil
}

func (s *kvCommands) watch(w jetstream.KeyWatcher) {
	defer close(s.done)
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		if e == nil { // end of the initial values
			continue
		}
		s.mu.Lock()
		if e.Operation() == jetstream.KeyValuePut {
			if cur, ok := s.l1[e.Key()]; !ok || cur.rev < e.Revision() {
				s.l1[e.Key()] = memEntry{src: e.Value(), rev: e.Revision()}
			}
		} else {
			delete(s.l1, e.Key())
		}
		s.mu.Unlock()
	}
}

func (s *kvCommands) close() {
	s.stop()
	<-s.done
}

// Get implements CommandStore: L1 first, then the bucket.
func (s *kvCommands) Get(ctx context.Context, name string) ([]byte, uint64, error) {
	s.mu.RLock()
	e, ok := s.l1[name]
	s.mu.RUnlock()
	if ok {
		return e.src, e.rev, nil
	}
	if ValidCommandName(name) != nil {
		return nil, 0, fmt.Errorf("%w: %q", ErrCommandNotFound, name)
	}
	ent, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: %q", ErrCommandNotFound, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get command %q: %w", name, err)
	}
	s.mu.Lock()
	if cur, ok := s.l1[name]; !ok || cur.rev < ent.Revision() {
		s.l1[name] = memEntry{src: ent.Value(), rev: ent.Revision()}
	}
	s.mu.Unlock()
	return ent.Value(), ent.Revision(), nil
}

// Put implements CommandStore.
func (s *kvCommands) Put(ctx context.Context, name string, src []byte) (uint64, error) {
	if err := ValidCommandName(name); err != nil {
		return 0, err
	}
	rev, err := s.kv.Put(ctx, name, src)
	if err != nil {
		return 0, fmt.Errorf("put command %q: %w", name, err)
	}
	s.mu.Lock()
	if cur, ok := s.l1[name]; !ok || cur.rev < rev {
		s.l1[name] = memEntry{src: append([]byte(nil), src...), rev: rev}
	}
	s.mu.Unlock()
	return rev, nil
}
