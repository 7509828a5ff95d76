package bus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Idempotency records.
const (
	// IdempotencyBucket is the KV bucket of stored responses, keyed by the
	// hash of (scope, Idempotency-Key); its TTL is how long a key is
	// remembered.
	IdempotencyBucket = "avap_idempotency"
	// DefaultIdempotencyTTL is the default of OpenIdempotency's ttl.
	DefaultIdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKey bounds the length of an Idempotency-Key header.
	MaxIdempotencyKey = 255
)

// Idempotency stores the responses of requests that carried an
// Idempotency-Key so a retried request gets the stored response instead of
// running again.
//
// A request first Begins: it creates a "pending" record (create-if-absent,
// so of two concurrent requests with the same key exactly one runs). When
// it has its response it Completes the record. A request that finds a
// completed record compares fingerprints (hash of method, path, query and
// body): equal means replay the stored response, different means the
// client reused a key for another request (422).
type Idempotency struct {
	kv  jetstream.KeyValue
	ttl time.Duration
}

// IdempotencyRecord is one stored response.
type IdempotencyRecord struct {
	Fingerprint string            `json:"fingerprint"`       // hex sha256 of the request
	Pending     bool              `json:"pending,omitempty"` // the first request is still running
	Status      int               `json:"status,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"` // Content-Type, Location...
	Body        []byte            `json:"body,omitempty"`
	Created     time.Time         `json:"created"`
}

// OpenIdempotency creates (or opens) the bucket with the given TTL
// (0 = DefaultIdempotencyTTL).
func OpenIdempotency(ctx context.Context, nc *nats.Conn, ttl time.Duration, memory bool) (*Idempotency, error) {
	if ttl <= 0 {
		ttl = DefaultIdempotencyTTL
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("idempotency: jetstream: %w", err)
	}
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      IdempotencyBucket,
		Replicas:    Replicas(js.Conn()),
		Description: "avap stored responses of idempotent requests",
		TTL:         ttl,
		History:     1,
		Storage:     storage,
	})
	if err != nil {
		return nil, fmt.Errorf("idempotency: bucket: %w", err)
	}
	return &Idempotency{kv: kv, ttl: ttl}, nil
}

// ValidIdempotencyKey accepts 1..255 printable ASCII characters.
func ValidIdempotencyKey(k string) error {
	if k == "" || len(k) > MaxIdempotencyKey {
		return fmt.Errorf("%w: Idempotency-Key must be 1-%d characters", ErrInvalidKey, MaxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return fmt.Errorf("%w: Idempotency-Key must be printable ASCII", ErrInvalidKey)
		}
	}
	return nil
}

// IdempotencyKeyHash returns the bucket key of (scope, key): the hex
// SHA-256, so any client key maps to a valid KV key and keys of different
// scopes (endpoints, API keys) never collide.
func IdempotencyKeyHash(scope, key string) string {
	h := sha256.Sum256([]byte(scope + "\x00" + key))
	return hex.EncodeToString(h[:])
}

// Begin claims keyHash for a request with the given fingerprint. When the
// claim succeeds, began is true and rev is the pending record's revision
// (pass it to Complete or Abandon). Otherwise rec is the existing record:
// pending (another request with that key is running) or complete.
//
// A pending record older than stale is taken over (its request died), so
// a crashed edge does not block the key until the TTL.
func (s *Idempotency) Begin(ctx context.Context, keyHash, fingerprint string, stale time.Duration) (rec *IdempotencyRecord, rev uint64, began bool, err error) {
	pending, _ := json.Marshal(IdempotencyRecord{Fingerprint: fingerprint, Pending: true, Created: time.Now().UTC()})
	for range 5 {
		rev, err = s.kv.Create(ctx, keyHash, pending)
		if err == nil {
			return nil, rev, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, 0, false, fmt.Errorf("idempotency: claim: %w", err)
		}
		e, err := s.kv.Get(ctx, keyHash)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // abandoned in between: claim again
		}
		if err != nil {
			return nil, 0, false, fmt.Errorf("idempotency: read: %w", err)
		}
		var r IdempotencyRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, 0, false, fmt.Errorf("idempotency: record: %w", err)
		}
		if r.Pending && stale > 0 && time.Since(r.Created) > stale && r.Fingerprint == fingerprint {
			rev, err = s.kv.Update(ctx, keyHash, pending, e.Revision())
			if err == nil {
				return nil, rev, true, nil
			}
			continue
		}
		return &r, e.Revision(), false, nil
	}
	return nil, 0, false, errors.New("idempotency: claim: too much contention")
}

// Get returns the record of keyHash, or nil when there is none.
func (s *Idempotency) Get(ctx context.Context, keyHash string) (*IdempotencyRecord, error) {
	e, err := s.kv.Get(ctx, keyHash)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r IdempotencyRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Complete stores the response of the request that Began keyHash at rev.
func (s *Idempotency) Complete(ctx context.Context, keyHash string, rev uint64, rec *IdempotencyRecord) error {
	rec.Pending = false
	if rec.Created.IsZero() {
		rec.Created = time.Now().UTC()
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := s.kv.Update(ctx, keyHash, data, rev); err != nil {
		return fmt.Errorf("idempotency: store response: %w", err)
	}
	return nil
}

// Abandon releases a claim whose request did not run (so a retry may run
// it): the pending record is deleted if it is still at rev.
func (s *Idempotency) Abandon(ctx context.Context, keyHash string, rev uint64) error {
	return s.kv.Delete(ctx, keyHash, jetstream.LastRevision(rev))
}
