package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// HeaderIdempotencyKey makes a POST to /execute, /execute/batch or /jobs
// idempotent: a retry with the same key gets the stored response.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderIdempotentReplayed is "true" on a response replayed from the store.
const HeaderIdempotentReplayed = "Idempotent-Replayed"

const keyIdempotency localKey = 100 // c.Locals: bucket key of the request's Idempotency-Key

// idempotentPaths are the routes the Idempotency-Key header applies to.
var idempotentPaths = [...]string{"/api/v1/execute", "/api/v1/execute/batch", "/api/v1/jobs"}

func isIdempotentPath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	for _, q := range idempotentPaths {
		if p == q {
			return true
		}
	}
	return false
}

// idempotencyMiddleware implements Idempotency-Key:
//   - the first request with a key claims it (a pending record), runs, and
//     its response (status, body, Content-Type, Location) is stored with the
//     request's fingerprint (method, path, query, body) for the TTL;
//   - a retry with the same key and the same fingerprint gets the stored
//     response (Idempotent-Replayed: true) and runs nothing; a concurrent
//     retry waits for the first to finish;
//   - the same key with a different request answers 422;
//   - a response that says the request never ran (429, or 503 with a
//     retryable code) is not stored, so the retry runs.
//
// Responses of idempotent requests are not compressed (the stored body
// must be the identity encoding).
func (j *jobsAPI) idempotencyMiddleware(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodPost {
		return c.Next()
	}
	key := c.Get(HeaderIdempotencyKey)
	if key == "" || !isIdempotentPath(c.Path()) {
		return c.Next()
	}
	if err := bus.ValidIdempotencyKey(key); err != nil {
		return j.x.sendError(c, nil, bus.CodeBadRequest, err.Error())
	}
	_, idem, _, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	path := strings.TrimSuffix(c.Path(), "/")
	keyHash := bus.IdempotencyKeyHash(path+"\x00"+j.clientID(c), key)
	h := sha256.New()
	h.Write([]byte(c.Method() + " " + path + "?"))
	h.Write(c.Request().URI().QueryString())
	h.Write([]byte{0})
	h.Write(c.Body())
	fp := hex.EncodeToString(h.Sum(nil))

	ctx := c.UserContext()
	wait := j.x.opts.MaxTimeout + j.x.opts.Margin
	rec, rev, began, err := idem.Begin(ctx, keyHash, fp, 2*wait)
	if err != nil {
		return j.unavailable(c, err)
	}
	if !began {
		deadline := time.Now().Add(wait)
		for rec != nil && rec.Pending && rec.Fingerprint == fp && time.Now().Before(deadline) {
			time.Sleep(25 * time.Millisecond)
			if rec, err = idem.Get(ctx, keyHash); err != nil {
				return j.unavailable(c, err)
			}
		}
		switch {
		case rec == nil: // abandoned while we waited: the retry may run
			return j.x.sendError(c, nil, bus.CodeConflict, "a request with this Idempotency-Key did not complete; retry")
		case rec.Fingerprint != fp:
			return j.x.sendError(c, nil, bus.CodeIdempotencyMismatch, "")
		case rec.Pending:
			c.Set(fiber.HeaderRetryAfter, "1")
			return j.x.sendError(c, nil, bus.CodeConflict, "a request with this Idempotency-Key is still running")
		}
		for k, v := range rec.Headers {
			c.Set(k, v)
		}
		c.Set(HeaderIdempotentReplayed, "true")
		c.Status(rec.Status)
		c.Response().SetBody(rec.Body)
		return nil
	}

	c.Locals(keyIdempotency, keyHash)
	c.Request().Header.Del(fiber.HeaderAcceptEncoding)
	nextErr := c.Next()
	status := c.Response().StatusCode()
	sctx := c.UserContext()
	if nextErr != nil || status == fiber.StatusTooManyRequests ||
		(status == fiber.StatusServiceUnavailable && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) > 0) {
		_ = idem.Abandon(sctx, keyHash, rev)
		return nextErr
	}
	stored := &bus.IdempotencyRecord{
		Fingerprint: fp, Status: status, Body: append([]byte(nil), c.Response().Body()...),
		Headers: map[string]string{},
	}
	for _, hname := range []string{fiber.HeaderContentType, fiber.HeaderLocation, fiber.HeaderRetryAfter} {
		if v := c.Response().Header.Peek(hname); len(v) > 0 {
			stored.Headers[hname] = string(v)
		}
	}
	if err := idem.Complete(sctx, keyHash, rev, stored); err != nil {
		j.s.Logger(c).Warn("idempotent response not stored", "err", err)
		_ = idem.Abandon(sctx, keyHash, rev)
	}
	return nil
}
