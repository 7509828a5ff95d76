package edge

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
)

// Request headers of API keys and signatures.
const (
	HeaderAPIKey    = "X-API-Key"        // the API key (or Authorization: Bearer <key>)
	HeaderTimestamp = "X-Avap-Timestamp" // signed requests: unix seconds
	HeaderNonce     = "X-Avap-Nonce"     // signed requests: 16-64 of [A-Za-z0-9_-], once per window
	HeaderSignature = "X-Avap-Signature" // signed requests: "v1=" + hex HMAC-SHA256
)

// Reasons of a 401 (the "reason" member of the error envelope).
const (
	ReasonKeyMissing       = "key_missing"
	ReasonKeyInvalid       = "key_invalid"
	ReasonKeyRevoked       = "key_revoked"
	ReasonSignatureMissing = "signature_missing"
	ReasonSignatureInvalid = "signature_invalid"
	ReasonTimestampStale   = "timestamp_stale"
	ReasonTimestampInvalid = "timestamp_invalid"
	ReasonNonceInvalid     = "nonce_invalid"
	ReasonNonceReplayed    = "nonce_replayed"
	ReasonNoSigningSecret  = "key_cannot_sign"
)

// keyEntry is one usable key as the edge holds it.
type keyEntry struct {
	rec      bus.APIKey
	hash     []byte // raw sha256
	secret   []byte // signing secret; nil = cannot sign
	caps     bus.Capability
	limitKey string // limiter key "k<id>"
	revoked  bool   // kept so the answer can say key_revoked
}

func newKeyEntry(rec bus.APIKey) (*keyEntry, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	h, _ := hex.DecodeString(rec.Hash) // checked by Validate
	e := &keyEntry{rec: rec, hash: h, caps: rec.RunCapabilities(), limitKey: string(rune(kindKey)) + rec.ID}
	if rec.SigningSecret != "" {
		s, err := hex.DecodeString(rec.SigningSecret)
		if err != nil || len(s) < 16 {
			return nil, errors.New("signing secret: want at least 32 hex digits")
		}
		e.secret = s
	}
	return e, nil
}

// limit is the rate limit of runs with this key.
func (e *keyEntry) limit(def RateLimit) RateLimit {
	if e.rec.RPS > 0 {
		return RateLimit{RPS: e.rec.RPS, Burst: e.rec.Burst}
	}
	return def
}

// applyTo sets the capabilities of a run made with this key and caps the
// limits it asks for (a zero request limit takes the key's cap).
func (e *keyEntry) applyTo(r *bus.Request) {
	r.Capabilities = e.caps
	m := &e.rec.MaxLimits
	capI := func(v *int64, limit int64) {
		if limit > 0 && (*v == 0 || *v > limit) {
			*v = limit
		}
	}
	capI(&r.Limits.MaxSteps, m.MaxSteps)
	capI(&r.Limits.MaxMemoryBytes, m.MaxMemoryBytes)
	capI(&r.Limits.MaxOutputBytes, m.MaxOutputBytes)
	if m.TimeoutMS > 0 {
		t := time.Duration(m.TimeoutMS) * time.Millisecond
		if r.Limits.Timeout == 0 || r.Limits.Timeout > t {
			r.Limits.Timeout = t
		}
	}
}

// keyCtx is the context key of the request's *keyEntry.
type keyCtx struct{}

// applyKey applies the API key of the request context (if any) to r: the
// executor sees the key's capabilities and limit caps. Called by exec.
func applyKey(ctx context.Context, r *bus.Request) {
	if e, ok := ctx.Value(keyCtx{}).(*keyEntry); ok {
		e.applyTo(r)
	}
}

// keyRing follows bus.KeysBucket through a KV watcher: puts install a
// key, deletes and revoked records remove it. The watcher starts on the
// first request that needs a key (New opens nothing) and keeps running
// until Shutdown.
type keyRing struct {
	nc  *nats.Conn
	log *slog.Logger

	mu   sync.RWMutex // guards byID
	byID map[string]*keyEntry

	mirror  *kvMirror        // follows bus.KeysBucket
	applied func(rev uint64) // test hook; or nil
}

func newKeyRing(nc *nats.Conn, log *slog.Logger) *keyRing {
	k := &keyRing{nc: nc, log: log, byID: map[string]*keyEntry{}}
	k.mirror = newKVMirror(nc, bus.KeysBucket, bus.OpenKeys, k.apply)
	return k
}

// ensure starts the watcher once and waits for the initial values.
func (k *keyRing) ensure(ctx context.Context) error { return k.mirror.ensure(ctx) }

func (k *keyRing) apply(e jetstream.KeyValueEntry) {
	id := e.Key()
	var ent *keyEntry
	if e.Operation() == jetstream.KeyValuePut {
		var rec bus.APIKey
		err := json.Unmarshal(e.Value(), &rec)
		if err == nil && rec.ID != id {
			err = errors.New("id does not match the bucket key")
		}
		if err == nil {
			revoked := rec.Revoked
			rec.Revoked, rec.RequireSignature = false, rec.RequireSignature && !revoked
			if ent, err = newKeyEntry(rec); ent != nil {
				ent.revoked = revoked
			}
		}
		if err != nil {
			k.log.Warn("API key record ignored", "key_id", id, "err", err)
		}
	}
	k.mu.Lock()
	if ent != nil {
		k.byID[id] = ent
	} else {
		delete(k.byID, id)
	}
	k.mu.Unlock()
	if k.applied != nil {
		k.applied(e.Revision())
	}
}

// lookup finds the entry of key; reason says why not.
func (k *keyRing) lookup(key string) (*keyEntry, string) {
	id, ok := bus.ParseKeyID(key)
	if !ok {
		return nil, ReasonKeyInvalid
	}
	k.mu.RLock()
	e := k.byID[id]
	k.mu.RUnlock()
	if e == nil || !bus.MatchKey(key, e.hash) {
		return nil, ReasonKeyInvalid
	}
	if e.revoked {
		return nil, ReasonKeyRevoked
	}
	return e, ""
}

// byLimitKey returns the entry of limiter key "k<id>".
func (k *keyRing) byLimitKey(lk string) *keyEntry {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if e := k.byID[lk[1:]]; e != nil && !e.revoked {
		return e
	}
	return nil
}

func (k *keyRing) shutdown() { k.mirror.close() }
