package bus

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LocksBucket is the JetStream KV bucket of distributed locks.
const LocksBucket = "avap_locks"

// Locks hands out cluster-wide mutual exclusion over a JetStream KV bucket.
// A lock is a key whose value names its owner and an expiry time:
//
//   - acquire = Create (succeeds only if the key is absent or deleted), or,
//     when the holder's expiry has passed (it died without releasing),
//     Update at the revision that was read — a compare-and-swap, so of many
//     contenders exactly one takes over;
//   - refresh = Update at the holder's revision, extending the expiry; a
//     jetstream.ErrKeyRevisionMismatch means someone else took the lock
//     (ErrLockLost);
//   - release = Delete at the holder's revision.
//
// Expiry uses the contenders' clocks: keep TTLs well above the clock skew
// of the cluster (seconds, not milliseconds, in production).
type Locks struct {
	kv    jetstream.KeyValue
	owner string
}

// OpenLocks creates (or opens) the lock bucket. owner names this process
// in lock values (for operators); it need not be unique.
func OpenLocks(ctx context.Context, nc *nats.Conn, owner string, memory bool) (*Locks, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("locks: jetstream: %w", err)
	}
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LocksBucket,
		Replicas:    Replicas(js.Conn()),
		Description: "avap distributed locks",
		History:     1,
		TTL:         24 * time.Hour, // garbage-collects keys of crashed holders
		Storage:     storage,
	})
	if err != nil {
		return nil, fmt.Errorf("locks: bucket: %w", err)
	}
	return &Locks{kv: kv, owner: owner}, nil
}

// lockValue is the stored value of a held lock.
type lockValue struct {
	Owner   string `json:"owner"`
	Token   string `json:"token"`
	Expires int64  `json:"expires_unix_nano"`
}

// Lock is one held lock. Refresh it before its TTL passes, and Release it.
type Lock struct {
	locks *Locks
	name  string
	token string
	ttl   time.Duration
	rev   uint64
}

// Name returns the lock's name.
func (l *Lock) Name() string { return l.name }

func validLockName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("%w: lock name must be 1-200 characters", ErrInvalidKey)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
			return fmt.Errorf("%w: lock name %q", ErrInvalidKey, name)
		}
	}
	return nil
}

// TryAcquire takes the lock name for ttl, or returns ErrLockHeld at once.
func (ls *Locks) TryAcquire(ctx context.Context, name string, ttl time.Duration) (*Lock, error) {
	if err := validLockName(name); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errors.New("locks: ttl must be positive")
	}
	var tb [12]byte
	_, _ = crand.Read(tb[:])
	l := &Lock{locks: ls, name: name, token: hex.EncodeToString(tb[:]), ttl: ttl}
	val := l.value()
	rev, err := ls.kv.Create(ctx, name, val)
	if err == nil {
		l.rev = rev
		return l, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("locks: acquire %s: %w", name, err)
	}
	e, err := ls.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, ErrLockHeld // released between our two calls: the caller retries
	}
	if err != nil {
		return nil, fmt.Errorf("locks: acquire %s: %w", name, err)
	}
	var cur lockValue
	if json.Unmarshal(e.Value(), &cur) == nil && time.Now().UnixNano() < cur.Expires {
		return nil, ErrLockHeld
	}
	// The holder's time is up: take over with a compare-and-swap.
	rev, err = ls.kv.Update(ctx, name, val, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil, ErrLockHeld
	}
	if err != nil {
		return nil, fmt.Errorf("locks: take over %s: %w", name, err)
	}
	l.rev = rev
	return l, nil
}

// Acquire waits until it holds the lock name (polling with jittered
// backoff up to 250 ms) or ctx ends.
func (ls *Locks) Acquire(ctx context.Context, name string, ttl time.Duration) (*Lock, error) {
	wait := 5 * time.Millisecond
	for {
		l, err := ls.TryAcquire(ctx, name, ttl)
		if !errors.Is(err, ErrLockHeld) {
			return l, err
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("locks: acquire %s: %w", name, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}

func (l *Lock) value() []byte {
	b, _ := json.Marshal(lockValue{Owner: l.locks.owner, Token: l.token, Expires: time.Now().Add(l.ttl).UnixNano()})
	return b
}

// Refresh extends the lock by its TTL. ErrLockLost means another owner
// took it: stop the protected work.
func (l *Lock) Refresh(ctx context.Context) error {
	rev, err := l.locks.kv.Update(ctx, l.name, l.value(), l.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return ErrLockLost
	}
	if err != nil {
		return fmt.Errorf("locks: refresh %s: %w", l.name, err)
	}
	l.rev = rev
	return nil
}

// Release gives the lock up. ErrLockLost means it had already expired and
// been taken by another owner (nothing is deleted then).
func (l *Lock) Release(ctx context.Context) error {
	err := l.locks.kv.Delete(ctx, l.name, jetstream.LastRevision(l.rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSeq(err) {
		return ErrLockLost
	}
	if err != nil {
		return fmt.Errorf("locks: release %s: %w", l.name, err)
	}
	return nil
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Do runs fn while holding the lock name: it waits for the lock, refreshes
// it every ttl/3 and cancels fn's context (cause ErrLockLost) if a refresh
// fails, then releases it. It returns fn's error, or the acquire error.
func (ls *Locks) Do(ctx context.Context, name string, ttl time.Duration, fn func(ctx context.Context) error) error {
	l, err := ls.Acquire(ctx, name, ttl)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := l.Refresh(fctx); err != nil {
					cancel(fmt.Errorf("%w: %w", ErrLockLost, err))
					return
				}
			}
		}
	}()
	err = fn(fctx)
	close(done)
	<-exited
	cancel(nil)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = l.Release(rctx)
	rcancel()
	return err
}
