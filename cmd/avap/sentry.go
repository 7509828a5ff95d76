package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/getsentry/sentry-go"
)

// sentryHandler forwards every record to next and sends two kinds to
// Sentry (the error tracking of issue 8):
//
//   - recovered panics: any record at error level or above with a "panic"
//     attribute (the edge's handler recovery and the executor's worker
//     recovery both log one, with the stack); always sent;
//   - 5xx answers: the edge's access line ("request" with status >= 500,
//     always logged); sent with probability sentry.sample_rate.
//
// Events carry request_id, trace_id, component, method, path and status
// as tags. Hooking the log keeps Sentry out of the libraries: edge and
// executor only log, as they already must.
type sentryHandler struct {
	next   slog.Handler
	client *sentry.Client
	rate   float64
	attrs  []slog.Attr // from WithAttrs (component), groups are not tags
	group  bool        // inside WithGroup: attributes are nested, not tags
}

// newSentryHandler builds the client of sc; transport is nil in production
// (HTTP to the DSN) and a recorder in tests.
func newSentryHandler(next slog.Handler, sc SentryConfig, b buildInfo, transport sentry.Transport) (*sentryHandler, error) {
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         sc.DSN.Reveal(),
		Environment: sc.Environment,
		Release:     "avap@" + b.Version,
		SampleRate:  1, // 5xx are sampled here so panics always go
		Transport:   transport,
	})
	if err != nil {
		return nil, fmt.Errorf("sentry.dsn: %w", err)
	}
	return &sentryHandler{next: next, client: client, rate: sc.SampleRate}, nil
}

// withNext is h reporting to the same client in front of another handler.
func (h *sentryHandler) withNext(next slog.Handler) *sentryHandler {
	c := *h
	c.next = next
	return &c
}

// Enabled is true from warn up whatever log.level says, so 5xx lines
// reach Sentry even when only errors are printed (Handle filters them).
func (h *sentryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *sentryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.group {
		c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	}
	return &c
}

func (h *sentryHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = true
	return &c
}

func (h *sentryHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level >= slog.LevelWarn {
		h.capture(r)
	}
	return err
}

// capture sends r when it is a panic or a 5xx answer.
func (h *sentryHandler) capture(r slog.Record) {
	var panicVal, stack string
	status := 0
	tags := map[string]string{}
	visit := func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch a.Key {
		case "panic":
			panicVal = v.String()
		case "stack":
			stack = v.String()
		case "status":
			if v.Kind() == slog.KindInt64 {
				status = int(v.Int64())
			}
			tags["status"] = v.String()
		case "request_id", "trace_id", "component", "method", "path", "executor_id", "code":
			if s := v.String(); s != "" {
				tags[a.Key] = s
			}
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)
	ev := sentry.NewEvent()
	ev.Timestamp = r.Time
	ev.Logger = "avap"
	switch {
	case panicVal != "" && r.Level >= slog.LevelError:
		ev.Level = sentry.LevelFatal
		ev.Message = r.Message + ": panic: " + panicVal
		ev.Exception = []sentry.Exception{{Type: "panic", Value: panicVal}}
		if stack != "" {
			ev.Contexts["panic"] = sentry.Context{"stack": stack}
		}
	case r.Message == "request" && status >= 500:
		if h.rate < 1 && rand.Float64() >= h.rate {
			return
		}
		ev.Level = sentry.LevelError
		ev.Message = "HTTP " + strconv.Itoa(status) + " " + tags["method"] + " " + tags["path"]
		ev.Fingerprint = []string{"http-5xx", tags["method"], tags["path"], tags["status"]}
	default:
		return
	}
	ev.Tags = tags
	h.client.CaptureEvent(ev, nil, nil)
}

// close flushes queued events (bounded) at shutdown.
func (h *sentryHandler) close() {
	h.client.Flush(3 * time.Second)
	h.client.Close()
}
