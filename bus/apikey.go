package bus

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the API-key state. They live here rather than in subjects.go's
// const block only to keep this concept in one file.
const (
	// KeysBucket is the JetStream KV bucket of API-key records, one key per
	// key id holding an APIKey as JSON (hashes only, never the key itself).
	// Edges watch it, so a revocation reaches every edge within the KV
	// watch delay (milliseconds).
	KeysBucket = "avap_keys"
	// NoncesBucket is the JetStream KV bucket of signed-request nonces
	// seen, shared by every edge so a nonce replayed against another edge
	// is refused too. Entries expire after the bucket's MaxAge.
	NoncesBucket = "avap_nonces"
	// KeyPrefix starts every API key: "avap_<id>_<secret>".
	KeyPrefix = "avap_"
)

// API-key capabilities by name. Route capabilities gate edge routes; the
// others become Capability bits of the run (capability.go).
const (
	KeyCapExecute  = "execute"  // /api/v1/execute, /execute/batch, /execute/file
	KeyCapCompile  = "compile"  // /api/v1/compile
	KeyCapJobs     = "jobs"     // /api/v1/jobs
	KeyCapProjects = "projects" // /api/v1/projects
	KeyCapAdmin    = "admin"    // /api/v1/dlq, /api/v1/audit
	KeyCapHTTP     = "http"     // outbound HTTP from scripts (CapHTTP)
	KeyCapSQL      = "sql"      // SQL connectors (CapSQL)
)

// KeyCapabilities lists every capability name in a fixed order.
func KeyCapabilities() []string {
	return []string{KeyCapExecute, KeyCapCompile, KeyCapJobs, KeyCapProjects, KeyCapAdmin, KeyCapHTTP, KeyCapSQL}
}

// APIKey is the stored record of one API key. The key itself is never
// stored: Hash is the hex SHA-256 of the whole key string (the key holds
// 190 random bits, so a fast hash is enough). SigningSecret is the HMAC
// secret of signed requests; it must be readable by the edges, so it is
// stored as is (treat the store and the bucket as secret).
type APIKey struct {
	ID               string    `json:"id"`                          // public part, [A-Za-z0-9]{12}
	Name             string    `json:"name"`                        // operator's label
	Hash             string    `json:"hash"`                        // hex sha256 of the key
	Created          time.Time `json:"created"`                     // creation time
	Revoked          bool      `json:"revoked,omitempty"`           // refused everywhere
	RevokedAt        time.Time `json:"revoked_at,omitzero"`         // when it was revoked
	RPS              float64   `json:"rps,omitempty"`               // own rate limit; 0 = the edge default
	Burst            int       `json:"burst,omitempty"`             // own burst; 0 = the edge default
	Capabilities     []string  `json:"capabilities,omitempty"`      // KeyCap* names
	MaxLimits        KeyLimits `json:"max_limits,omitzero"`         // caps on the run limits a request may ask for
	SigningSecret    string    `json:"signing_secret,omitempty"`    // hex; "" = the key cannot sign
	RequireSignature bool      `json:"require_signature,omitempty"` // every request with this key must be signed
}

// KeyLimits caps the limits of runs made with one key; zero fields leave
// the server's limits.
type KeyLimits struct {
	MaxSteps       int64 `json:"max_steps,omitempty"`
	TimeoutMS      int64 `json:"timeout_ms,omitempty"`
	MaxMemoryBytes int64 `json:"max_memory_bytes,omitempty"`
	MaxOutputBytes int64 `json:"max_output_bytes,omitempty"`
}

// Has reports whether k grants the capability name.
func (k *APIKey) Has(name string) bool {
	for _, c := range k.Capabilities {
		if c == name {
			return true
		}
	}
	return false
}

// RunCapabilities returns the Capability bits of runs made with k: an
// explicit set, CapNone when k grants neither http nor sql.
func (k *APIKey) RunCapabilities() Capability {
	c := CapNone
	if k.Has(KeyCapHTTP) {
		c |= CapHTTP
	}
	if k.Has(KeyCapSQL) {
		c |= CapSQL
	}
	return c
}

// Validate reports every problem of a record.
func (k *APIKey) Validate() error {
	var errs []error
	if !validKeyID(k.ID) {
		errs = append(errs, fmt.Errorf("id %q: want %d characters of A-Z a-z 0-9", k.ID, keyIDLen))
	}
	if b, err := hex.DecodeString(k.Hash); err != nil || len(b) != sha256.Size {
		errs = append(errs, errors.New("hash: want 64 hex digits"))
	}
	if k.RPS < 0 || k.Burst < 0 {
		errs = append(errs, errors.New("rps and burst must not be negative"))
	}
	known := KeyCapabilities()
next:
	for _, c := range k.Capabilities {
		for _, n := range known {
			if c == n {
				continue next
			}
		}
		errs = append(errs, fmt.Errorf("capability %q: want one of %s", c, strings.Join(known, ", ")))
	}
	if k.RequireSignature && k.SigningSecret == "" {
		errs = append(errs, errors.New("require_signature needs a signing secret"))
	}
	return errors.Join(errs...)
}

const (
	keyIDLen     = 12
	keySecretLen = 32
	keyAlphabet  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

func validKeyID(id string) bool {
	if len(id) != keyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(keyAlphabet, id[i]) < 0 {
			return false
		}
	}
	return true
}

func randomToken(n int) string {
	b := make([]byte, n)
	r := make([]byte, n*2)
	_, _ = rand.Read(r) // crypto/rand never returns short
	j := 0
	for i := range b {
		for {
			if j == len(r) {
				_, _ = rand.Read(r)
				j = 0
			}
			v := r[j]
			j++
			if int(v) < 256-256%len(keyAlphabet) { // unbiased
				b[i] = keyAlphabet[int(v)%len(keyAlphabet)]
				break
			}
		}
	}
	return string(b)
}

// NewAPIKey generates a key and its record (hash only). The key string is
// returned once and must be handed to the client; it cannot be recovered.
// With signing, the record gets a random 32-byte signing secret.
func NewAPIKey(name string, signing bool) (key string, rec APIKey) {
	id := randomToken(keyIDLen)
	key = KeyPrefix + id + "_" + randomToken(keySecretLen)
	rec = APIKey{ID: id, Name: name, Hash: HashKey(key), Created: time.Now().UTC()}
	if signing {
		s := make([]byte, 32)
		_, _ = rand.Read(s)
		rec.SigningSecret = hex.EncodeToString(s)
	}
	return key, rec
}

// HashKey returns the hex SHA-256 of key, as stored in APIKey.Hash.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// ParseKeyID returns the id part of an "avap_<id>_<secret>" key.
func ParseKeyID(key string) (string, bool) {
	if len(key) != len(KeyPrefix)+keyIDLen+1+keySecretLen || !strings.HasPrefix(key, KeyPrefix) {
		return "", false
	}
	id := key[len(KeyPrefix) : len(KeyPrefix)+keyIDLen]
	if key[len(KeyPrefix)+keyIDLen] != '_' || !validKeyID(id) {
		return "", false
	}
	return id, true
}

// MatchKey reports in constant time whether key hashes to hash (the raw
// 32-byte digest of the record).
func MatchKey(key string, hash []byte) bool {
	h := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// OpenKeys creates (or opens) KeysBucket.
func OpenKeys(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      KeysBucket,
		Description: "avap API keys (hashes)",
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", KeysBucket, err)
	}
	return kv, nil
}

// PutKey stores rec in the bucket when it differs from what is there, and
// reports whether it wrote.
func PutKey(ctx context.Context, kv jetstream.KeyValue, rec *APIKey) (bool, error) {
	if err := rec.Validate(); err != nil {
		return false, fmt.Errorf("key %s: %w", rec.ID, err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	if e, err := kv.Get(ctx, rec.ID); err == nil && string(e.Value()) == string(b) {
		return false, nil
	}
	if _, err := kv.Put(ctx, rec.ID, b); err != nil {
		return false, fmt.Errorf("put key %s: %w", rec.ID, err)
	}
	return true, nil
}

// OpenNonces creates (or opens) NoncesBucket whose entries live for ttl
// (the signing window on both sides of now).
func OpenNonces(ctx context.Context, js jetstream.JetStream, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      NoncesBucket,
		Description: "avap signed-request nonces",
		History:     1,
		TTL:         ttl,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", NoncesBucket, err)
	}
	return kv, nil
}
