package executor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
)

// Callback signature headers. The signature is the hex HMAC-SHA256, keyed
// by the callback secret, of "<timestamp>.<body>"; receivers recompute it
// and reject timestamps far from their clock (replays).
const (
	HeaderCallbackTimestamp = "Avap-Timestamp"    // Unix seconds
	HeaderCallbackSignature = "Avap-Signature"    // "v1=<hex>"
	HeaderCallbackJobID     = "Avap-Job-Id"       // the job
	HeaderCallbackAttempt   = "Avap-Delivery-Try" // 1, 2, ...
)

// SignCallback returns the Avap-Signature value of body sent at ts.
func SignCallback(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyCallback checks a received callback: the signature must match and
// the timestamp be within tolerance of now.
func VerifyCallback(secret []byte, tsHeader, sigHeader string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return errors.New("callback: bad timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("callback: timestamp outside tolerance")
	}
	if !hmac.Equal([]byte(SignCallback(secret, ts, body)), []byte(sigHeader)) {
		return errors.New("callback: bad signature")
	}
	return nil
}

// CallbackBody is the JSON a callback POSTs.
type CallbackBody struct {
	ID         string          `json:"id"`
	State      bus.JobState    `json:"state"`
	Attempts   int             `json:"attempts"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"` // the /execute response envelope
	DeadReason string          `json:"dead_reason,omitempty"`
}

func (r *JobRunner) callbackClient() *http.Client {
	policy := r.opts.CallbackEgress
	if policy == nil {
		policy, _ = NewEgressPolicy(nil)
	}
	d := &egressDialer{policy: policy, resolver: net.DefaultResolver}
	d.dialer.Timeout = r.opts.CallbackTimeout
	return &http.Client{
		Timeout: r.opts.CallbackTimeout,
		Transport: r.guardCallbackTransport(&http.Transport{ // circuit breaker per host (host_breaker.go)
			Proxy:                 nil,
			DialContext:           d.DialContext,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: r.opts.CallbackTimeout,
		}),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// callbackLoop delivers queued callbacks until the runner stops.
func (r *JobRunner) callbackLoop(cons jetstream.Consumer) {
	client := r.callbackClient()
	for r.fetchCtx.Err() == nil {
		fctx, cancel := context.WithTimeout(r.fetchCtx, jobFetchWait)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			sleepCtx(r.fetchCtx, jobFetchErrorBackoff)
			continue
		}
		for msg := range batch.Messages() {
			r.deliver(client, msg)
		}
		cancel()
	}
}

// deliver POSTs one job's callback and records the attempt on the job.
func (r *JobRunner) deliver(client *http.Client, msg jetstream.Msg) {
	ctx := r.runCtx
	id := string(msg.Data())
	rec, _, err := r.jobs.Get(ctx, id)
	if errors.Is(err, bus.ErrJobNotFound) || errors.Is(err, bus.ErrInvalidJobID) {
		_ = msg.Term()
		return
	}
	if err != nil {
		_ = msg.NakWithDelay(r.opts.CallbackBackoffBase)
		return
	}
	if rec.CallbackURL == "" || rec.Callback == nil || rec.Callback.State != "pending" || !rec.State.Terminal() {
		_ = msg.Ack()
		return
	}
	status, derr := r.post(ctx, client, rec, rec.Callback.Attempts+1)
	if breaker.IsOpen(derr) { // the receiver's breaker is open: try later, not an attempt
		_ = msg.NakWithDelay(r.callbackOpenDelay())
		return
	}
	now := time.Now().UTC()
	var final bool
	var attempts int
	_, _, err = r.jobs.Update(ctx, id, func(j *bus.JobRecord) error {
		if j.Callback == nil || j.Callback.State != "pending" {
			return bus.ErrSkipUpdate
		}
		c := j.Callback
		c.Attempts++
		c.LastStatus = status
		attempts = c.Attempts
		if derr == nil {
			c.State, c.LastError, c.DeliveredAt = "delivered", "", &now
			final = true
			return nil
		}
		c.LastError = derr.Error()
		if c.Attempts >= r.opts.CallbackMaxAttempts {
			c.State = "failed"
			final = true
		}
		return nil
	})
	switch {
	case errors.Is(err, bus.ErrSkipUpdate):
		_ = msg.Ack()
	case err != nil:
		_ = msg.NakWithDelay(r.opts.CallbackBackoffBase)
	case derr == nil:
		r.stats.callbacksOK.Add(1)
		_ = msg.Ack()
	case final:
		r.stats.callbacksFailed.Add(1)
		r.log.Warn("job callback failed for good", "job", id, "attempts", attempts, "err", derr)
		_ = msg.Ack()
	default:
		_ = msg.NakWithDelay(bus.JobBackoff(attempts, r.opts.CallbackBackoffBase, r.opts.CallbackBackoffMax, rand.Float64()))
	}
}

// SetCallbackSecret replaces the key signing callbacks (config reload):
// every delivery from now on, retries of earlier callbacks included, is
// signed with the new key only, so receivers should accept both keys
// while they switch. Empty = callbacks fail until a key is set. Safe for
// concurrent use with deliveries.
func (r *JobRunner) SetCallbackSecret(key []byte) {
	k := bytes.Clone(key)
	r.callbackSecret.Store(&k)
}

// secret is the current callback key.
func (r *JobRunner) secret() []byte {
	if p := r.callbackSecret.Load(); p != nil {
		return *p
	}
	return r.opts.CallbackSecret
}

// post sends the signed callback; any answer other than 2xx is an error.
func (r *JobRunner) post(ctx context.Context, client *http.Client, rec *bus.JobRecord, try int) (int, error) {
	secret := r.secret()
	if len(secret) == 0 {
		return 0, errors.New("no callback secret configured (jobs.callback_secret)")
	}
	body, err := json.Marshal(CallbackBody{
		ID: rec.ID, State: rec.State, Attempts: rec.Attempts, FinishedAt: rec.FinishedAt,
		Result: JobEnvelope(rec), DeadReason: rec.DeadReason,
	})
	if err != nil {
		return 0, err
	}
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "avap-callback/1")
	req.Header.Set(HeaderCallbackTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderCallbackSignature, SignCallback(secret, ts, body))
	req.Header.Set(HeaderCallbackJobID, rec.ID)
	req.Header.Set(HeaderCallbackAttempt, strconv.Itoa(try))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("callback answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// JobEnvelope renders a finished job's reply as the /execute response
// envelope (success, result, variables, logs, stats | error, code,
// position), with the submitting request's id; nil while unfinished.
func JobEnvelope(rec *bus.JobRecord) json.RawMessage {
	if rec.Reply == nil {
		return nil
	}
	rp := rec.Reply
	type stats struct {
		Steps      int64 `json:"steps"`
		DurationUS int64 `json:"duration_us"`
		PeakMemory int64 `json:"peak_memory"`
	}
	type position struct {
		Line   int `json:"line"`
		Column int `json:"column"`
	}
	env := struct {
		Success   bool            `json:"success"`
		Result    json.RawMessage `json:"result,omitempty"`
		Variables json.RawMessage `json:"variables,omitempty"`
		Logs      []string        `json:"logs,omitempty"`
		Stats     *stats          `json:"stats,omitempty"`
		Error     string          `json:"error,omitempty"`
		Code      bus.Code        `json:"code,omitempty"`
		Position  *position       `json:"position,omitempty"`
		RequestID string          `json:"request_id,omitempty"`
	}{Success: rp.Success, RequestID: rec.RequestID}
	if rp.Success {
		env.Result, env.Variables, env.Logs = orEmpty(rp.Result), orEmpty(rp.Variables), rp.Logs
		if env.Logs == nil {
			env.Logs = []string{}
		}
		env.Stats = &stats{rp.Stats.Steps, rp.Stats.DurationUS, rp.Stats.PeakMemory}
	} else {
		env.Error, env.Code = rp.Error, rp.Code
		if rp.Line > 0 {
			env.Position = &position{rp.Line, rp.Col}
		}
	}
	b, _ := json.Marshal(env)
	return b
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}
