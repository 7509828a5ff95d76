package edge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
)

// Signed requests.
//
// A client that holds a key with a signing secret sends, besides the key:
//
//	X-Avap-Timestamp: <unix seconds>
//	X-Avap-Nonce:     <16-64 characters of A-Z a-z 0-9 _ ->, never reused
//	X-Avap-Signature: v1=<hex HMAC-SHA256(secret, string to sign)>
//
// where the string to sign is, joined by "\n":
//
//	"AVAP-HMAC-SHA256", METHOD, path as sent (not decoded), query string
//	as sent (without "?", "" when none), timestamp, nonce,
//	hex(SHA-256(body))
//
// The edge refuses (401, with a reason) a missing or wrong signature, a
// timestamp outside now ± window, and a nonce it has seen within the
// window — on any edge: nonces are created in bus.NoncesBucket (JetStream
// KV, entries expire after 2·window), so a replay against another edge
// fails the KV create. Without JetStream, nonces are remembered only by
// the edge that saw them (the log says so once).

// reasonNonceStoreDown makes the guard answer 503: the nonce could not be
// checked against the other edges.
const reasonNonceStoreDown = "nonce_store_unavailable"

// SignatureVersion prefixes the signature header value.
const SignatureVersion = "v1="

// SignRequest returns the X-Avap-Signature value of a request (for
// clients and tests).
func SignRequest(secret []byte, method, path, query string, ts int64, nonce string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	writeStringToSign(mac, method, path, query, ts, nonce, body)
	return SignatureVersion + hex.EncodeToString(mac.Sum(nil))
}

type stringWriter interface{ Write([]byte) (int, error) }

func writeStringToSign(w stringWriter, method, path, query string, ts int64, nonce string, body []byte) {
	bh := sha256.Sum256(body)
	var buf [64]byte
	var num [20]byte
	_, _ = w.Write([]byte("AVAP-HMAC-SHA256\n"))
	_, _ = w.Write([]byte(method))
	_, _ = w.Write([]byte{'\n'})
	_, _ = w.Write([]byte(path))
	_, _ = w.Write([]byte{'\n'})
	_, _ = w.Write([]byte(query))
	_, _ = w.Write([]byte{'\n'})
	_, _ = w.Write(strconv.AppendInt(num[:0], ts, 10))
	_, _ = w.Write([]byte{'\n'})
	_, _ = w.Write([]byte(nonce))
	_, _ = w.Write([]byte{'\n'})
	hex.Encode(buf[:], bh[:])
	_, _ = w.Write(buf[:])
}

// nonceStore remembers nonces for the signing window.
type nonceStore struct {
	nc     *nats.Conn
	window time.Duration

	mu     sync.Mutex // guards local, kv, kvErr
	local  map[string]time.Time
	kv     jetstream.KeyValue
	kvErr  error
	warned bool
}

func newNonceStore(nc *nats.Conn, window time.Duration) *nonceStore {
	return &nonceStore{nc: nc, window: window, local: map[string]time.Time{}}
}

var errReplay = errors.New("nonce replayed")

// use records the nonce of key id; errReplay when it was seen.
func (n *nonceStore) use(ctx context.Context, id, nonce string, now time.Time) error {
	k := id + "." + nonce
	n.mu.Lock()
	if exp, ok := n.local[k]; ok && now.Before(exp) {
		n.mu.Unlock()
		return errReplay
	}
	if len(n.local) >= maxNonceCacheEntries {
		for key, exp := range n.local {
			if now.After(exp) {
				delete(n.local, key)
			}
		}
		if len(n.local) >= maxNonceCacheEntries {
			clear(n.local) // the KV still knows them
		}
	}
	n.local[k] = now.Add(2 * n.window)
	kv := n.kv
	if kv == nil && n.kvErr == nil && n.nc != nil {
		kv, n.kvErr = n.open(ctx)
		n.kv = kv
	}
	n.mu.Unlock()
	if kv == nil {
		return nil
	}
	if _, err := kv.Create(ctx, k, nil); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return errReplay
		}
		return err
	}
	return nil
}

func (n *nonceStore) open(ctx context.Context) (jetstream.KeyValue, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, err
	}
	return bus.OpenNonces(ctx, js, 2*n.window)
}

func validNonce(s []byte) bool {
	if len(s) < minNonceLen || len(s) > maxNonceL {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// verifySignature checks the signature headers of c for key e and returns
// a 401 reason, or "".
func (g *guard) verifySignature(c *fiber.Ctx, e *keyEntry, now time.Time) string {
	h := &c.Request().Header
	sig := h.Peek(HeaderSignature)
	tsb := h.Peek(HeaderTimestamp)
	nonce := h.Peek(HeaderNonce)
	if len(sig) == 0 || len(tsb) == 0 || len(nonce) == 0 {
		return ReasonSignatureMissing
	}
	if e.secret == nil {
		return ReasonNoSigningSecret
	}
	ts, err := strconv.ParseInt(b2s(tsb), 10, 64)
	if err != nil {
		return ReasonTimestampInvalid
	}
	if d := now.Sub(time.Unix(ts, 0)); d > g.opts.Signing.Window || d < -g.opts.Signing.Window {
		return ReasonTimestampStale
	}
	if !validNonce(nonce) {
		return ReasonNonceInvalid
	}
	if len(sig) != len(SignatureVersion)+2*sha256.Size || string(sig[:len(SignatureVersion)]) != SignatureVersion {
		return ReasonSignatureInvalid
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], sig[len(SignatureVersion):]); err != nil {
		return ReasonSignatureInvalid
	}
	mac := hmac.New(sha256.New, e.secret)
	uri := c.Request().URI()
	writeStringToSign(mac, b2s(c.Request().Header.Method()), b2s(uri.PathOriginal()), b2s(uri.QueryString()), ts, b2s(nonce), c.Body())
	if !hmac.Equal(mac.Sum(nil), got[:]) {
		return ReasonSignatureInvalid
	}
	// Only a valid signature spends the nonce (a forger cannot burn them).
	if err := g.nonces.use(c.UserContext(), e.rec.ID, string(nonce), now); err != nil {
		if errors.Is(err, errReplay) {
			return ReasonNonceReplayed
		}
		g.log.Warn("nonce store unavailable; refusing signed request", "err", err)
		return reasonNonceStoreDown
	}
	return ""
}
