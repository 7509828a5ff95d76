package edge

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/avapmesh/avap/bus"
)

// Telemetry of the edge: Prometheus metrics on Options.Metrics (nil = none)
// and OpenTelemetry spans from Options.Tracer (nil = none). Everything a
// request touches is resolved when the server is built: the label children
// of every route, so a request costs a map lookup and a few atomic adds,
// and nothing at all when both are off.

// LocalTraceID is the fasthttp user value (Fiber Locals) holding the trace
// id of a traced request as a string; log handlers read it through the
// request context (fasthttp's RequestCtx.Value answers string keys).
const LocalTraceID = "avap.trace_id"

// HeaderTraceparent is the W3C trace context header, read from clients and
// echoed on traced responses.
const HeaderTraceparent = "traceparent"

// Label values for requests no route matched and methods outside the
// standard set (STYLE.md 2.2: bounded labels only).
const labelOther = "other"

// httpDurationBuckets fit an API whose typical answer takes 1-50 ms.
var httpDurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// telemetry is the edge's instrumentation; nil when metrics and tracing
// are both off.
type telemetry struct {
	tracer     trace.Tracer // nil = no tracing
	serverSpan []trace.SpanStartOption
	clientSpan []trace.SpanStartOption
	hopNames   [2]string // client span name per lane

	// metrics; nil vectors when metrics are off
	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route, method
	inFlight prometheus.Gauge
	natsRTT  *prometheus.HistogramVec // lane
	natsErrs *prometheus.CounterVec   // lane, code
	children map[routeKey]*routeMetrics
	routes   map[routeKey]bool // the mounted routes (not middleware)
	lanes    [2]laneMetrics    // interactive, batch
}

type routeKey struct{ method, path string }

// routeMetrics are the pre-resolved children of one route.
type routeMetrics struct {
	byClass  [6]prometheus.Counter // index status/100 (0 = unknown)
	duration prometheus.Observer
}

type laneMetrics struct {
	rtt prometheus.Observer
}

func newTelemetry(opts Options) (*telemetry, error) {
	if opts.Metrics == nil && opts.Tracer == nil {
		return nil, nil
	}
	t := &telemetry{}
	if opts.Tracer != nil {
		t.tracer = opts.Tracer.Tracer("github.com/avapmesh/avap/edge")
		// Built once: each option is an allocation when made per request.
		t.serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
		t.clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
		for i, l := range bus.Lanes() {
			if i < len(t.hopNames) {
				t.hopNames[i] = "nats request " + string(l)
			}
		}
	}
	if opts.Metrics == nil {
		return t, nil
	}
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "avap_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status class.",
	}, []string{"route", "method", "code"})
	t.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "avap_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern and method.",
		Buckets: httpDurationBuckets,
	}, []string{"route", "method"})
	t.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "avap_http_requests_in_flight",
		Help: "HTTP requests being served.",
	})
	t.natsRTT = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "avap_nats_request_duration_seconds",
		Help:    "Round trip of an execution request over NATS (edge to executor and back), by lane.",
		Buckets: httpDurationBuckets,
	}, []string{"lane"})
	t.natsErrs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "avap_nats_request_errors_total",
		Help: "Execution requests over NATS that got no reply, by lane and error code.",
	}, []string{"lane", "code"})
	for _, c := range []prometheus.Collector{t.requests, t.duration, t.inFlight, t.natsRTT, t.natsErrs} {
		if err := opts.Metrics.Register(c); err != nil {
			return nil, err
		}
	}
	for i, l := range bus.Lanes() {
		if i < len(t.lanes) {
			t.lanes[i].rtt = t.natsRTT.WithLabelValues(string(l))
		}
	}
	return t, nil
}

// resolveRoutes pre-resolves the label children of every route of app;
// called once the routes are mounted.
func (t *telemetry) resolveRoutes(app *fiber.App) {
	if t == nil {
		return
	}
	t.routes = map[routeKey]bool{}
	for _, r := range app.GetRoutes(true) {
		t.routes[routeKey{r.Method, r.Path}] = true
	}
	if t.requests == nil {
		return
	}
	t.children = map[routeKey]*routeMetrics{}
	for _, r := range app.GetRoutes(true) {
		t.children[routeKey{r.Method, r.Path}] = t.newRoute(r.Path, r.Method)
	}
	t.children[routeKey{labelOther, labelOther}] = t.newRoute(labelOther, labelOther)
}

func (t *telemetry) newRoute(path, method string) *routeMetrics {
	rm := &routeMetrics{duration: t.duration.WithLabelValues(path, method)}
	for c := 1; c < len(rm.byClass); c++ {
		rm.byClass[c] = t.requests.WithLabelValues(path, method, strconv.Itoa(c)+"xx")
	}
	rm.byClass[0] = t.requests.WithLabelValues(path, method, labelOther)
	return rm
}

// route returns the children for the matched route of c, "other" when
// none matched.
func (t *telemetry) route(c *fiber.Ctx, err error) *routeMetrics {
	if !unmatched(err) {
		r := c.Route()
		if rm := t.children[routeKey{r.Method, r.Path}]; rm != nil {
			return rm
		}
	}
	return t.children[routeKey{labelOther, labelOther}]
}

// routeLabel is the route pattern of c for span names, "other" when no
// route matched.
func (t *telemetry) routeLabel(c *fiber.Ctx, err error) string {
	r := c.Route()
	if !unmatched(err) && t.routes[routeKey{r.Method, r.Path}] {
		return r.Path
	}
	return labelOther
}

// unmatched reports Fiber's answer to a request no route matched. Then
// c.Route() is the last middleware's route, which Fiber copies per method
// with the middleware's prefix as path ("/"), so it must not be taken for
// a route of that path.
func unmatched(err error) bool {
	if err == nil {
		return false // before fe: its address escapes, so it is heap-allocated where declared
	}
	var fe *fiber.Error
	return errors.As(err, &fe) && fe.Code == fiber.StatusNotFound && strings.HasPrefix(fe.Message, "Cannot ")
}

// sanitizeMethod maps a method to a bounded label value (Caddy
// SanitizeMethod).
func sanitizeMethod(m string) string {
	switch m {
	case fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete, fiber.MethodPatch,
		fiber.MethodHead, fiber.MethodOptions:
		return m
	}
	return labelOther
}

// observeNext runs the rest of the chain for c inside the request's span
// and records its metrics. It is c.Next() (with panic recovery) when
// telemetry is off.
func (s *Server) observeNext(c *fiber.Ctx, start time.Time) error {
	t := s.tel
	if t == nil {
		return s.next(c) // c.Next() with panic recovery (observe_panic.go)
	}
	var span trace.Span
	if t.tracer != nil {
		span = t.startRequestSpan(c)
	}
	if t.inFlight != nil {
		t.inFlight.Inc()
	}
	err := s.next(c)
	status := responseStatus(c, err)
	var rm *routeMetrics
	if t.requests != nil {
		t.inFlight.Dec()
		rm = t.route(c, err)
		rm.byClass[statusClass(status)].Inc()
		rm.duration.Observe(time.Since(start).Seconds())
	}
	if span != nil && span.IsRecording() { // an unsampled span takes no attributes
		route := t.routeLabel(c, err)
		span.SetName(sanitizeMethod(c.Method()) + " " + route)
		span.SetAttributes(
			attribute.String("http.route", route),
			attribute.Int("http.response.status_code", status),
			attribute.String("avap.request_id", RequestID(c)),
		)
		if status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
	if span != nil {
		span.End()
	}
	return err
}

// startRequestSpan starts the server span of c (a child of the client's
// traceparent when it sent one) and puts it, and its traceparent for the
// bus, into the user context.
func (t *telemetry) startRequestSpan(c *fiber.Ctx) trace.Span {
	ctx := c.UserContext()
	if sc, ok := ParseTraceparent(c.Get(HeaderTraceparent)); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	ctx, span := t.tracer.Start(ctx, "HTTP", t.serverSpan...) // named at the end (observeNext)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("http.request.method", sanitizeMethod(c.Method())),
			attribute.String("url.path", c.Path()),
		)
	}
	sc := span.SpanContext()
	if sc.IsValid() {
		tp := FormatTraceparent(sc)
		ctx = bus.WithTraceparent(ctx, tp)
		c.Locals(LocalTraceID, sc.TraceID().String())
		c.Set(HeaderTraceparent, tp)
	}
	c.SetUserContext(ctx)
	return span
}

// TraceID returns the trace id of the request c, or "" when it is not traced.
func TraceID(c *fiber.Ctx) string {
	id, _ := c.Locals(LocalTraceID).(string)
	return id
}

// responseStatus predicts the status the error handler will send for err
// (the chain's result), or the response status when err is nil.
func responseStatus(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return fiber.StatusInternalServerError
}

func statusClass(status int) int {
	if c := status / 100; c >= 1 && c <= 5 {
		return c
	}
	return 0
}

// natsHop is one execution request over NATS, timed and traced.
type natsHop struct {
	t     *telemetry
	span  trace.Span
	start time.Time
	lane  int
}

// startHop begins a NATS request on lane; the returned context carries the
// client span and its traceparent so the executor's span is its child.
func (t *telemetry) startHop(ctx context.Context, subject string, lane bus.Lane) (context.Context, natsHop) {
	if t == nil {
		return ctx, natsHop{}
	}
	h := natsHop{t: t, start: time.Now()}
	if lane == bus.LaneBatch {
		h.lane = 1
	}
	// An unsampled request gets no client span: the executor learns the
	// (unsampled) trace from the request span's traceparent already in ctx.
	if t.tracer != nil && trace.SpanFromContext(ctx).SpanContext().IsSampled() {
		ctx, h.span = t.tracer.Start(ctx, t.hopNames[h.lane], t.clientSpan...)
		h.span.SetAttributes(attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", subject))
		if sc := h.span.SpanContext(); sc.IsValid() {
			ctx = bus.WithTraceparent(ctx, FormatTraceparent(sc))
		}
	}
	return ctx, h
}

// end records the hop; rep is the answer (or the transport error mapped
// into it).
func (h natsHop) end(rep *bus.Reply) {
	if h.t == nil {
		return
	}
	transport := !rep.Success && rep.ExecutorID == "" // no executor answered
	if h.t.natsRTT != nil {
		if transport {
			lanes := bus.Lanes()
			h.t.natsErrs.WithLabelValues(string(lanes[h.lane%len(lanes)]), string(rep.Code)).Inc()
		} else {
			h.t.lanes[h.lane].rtt.Observe(time.Since(h.start).Seconds())
		}
	}
	if h.span != nil {
		if !rep.Success {
			h.span.SetAttributes(attribute.String("avap.code", string(rep.Code)))
			if transport {
				h.span.SetStatus(codes.Error, string(rep.Code))
			}
		}
		if rep.ExecutorID != "" {
			h.span.SetAttributes(attribute.String("avap.executor_id", rep.ExecutorID))
		}
		h.span.End()
	}
}

// FormatTraceparent encodes sc as a W3C traceparent header value.
func FormatTraceparent(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hexInto(b[3:35], tid[:])
	b[35] = '-'
	hexInto(b[36:52], sid[:])
	b[52] = '-'
	hexInto(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

func hexInto(dst, src []byte) {
	for i, v := range src {
		dst[2*i], dst[2*i+1] = hexDigits[v>>4], hexDigits[v&0xf]
	}
}

// ParseTraceparent decodes a W3C traceparent value (version 00 layout;
// later versions are read by their 00 prefix as the spec asks).
func ParseTraceparent(v string) (trace.SpanContext, bool) {
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || v[:2] == "ff" || (len(v) > 55 && v[55] != '-') {
		return trace.SpanContext{}, false
	}
	tid, err := trace.TraceIDFromHex(v[3:35])
	if err != nil {
		return trace.SpanContext{}, false
	}
	sid, err := trace.SpanIDFromHex(v[36:52])
	if err != nil {
		return trace.SpanContext{}, false
	}
	f, err := strconv.ParseUint(v[53:55], 16, 8)
	if err != nil {
		return trace.SpanContext{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(f) & trace.FlagsSampled, Remote: true})
	return sc, sc.IsValid()
}
