package executor

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// Telemetry of the executor: Prometheus metrics on Options.Metrics (nil =
// none) and spans from Options.Tracer (nil = none, and no cost: the hot
// path tests one pointer). Label children are resolved in New, so a run
// costs a few atomic adds; queue depth and pool sizes are read at scrape
// time.

// runBuckets cover runs from 10 µs to the 60 s maximum time limit.
var runBuckets = []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// outcomeOK labels successful runs; failures carry their wire code in
// lower case without the AVAP_ prefix ("step_limit", "runtime", ...).
const outcomeOK = "ok"

type telemetry struct {
	tracer     trace.Tracer          // nil = no tracing
	serverSpan trace.SpanStartOption // built once: an option is an allocation
	spanNames  [2]string             // "execute <lane>" per lane

	outcomes  map[bus.Code]prometheus.Counter // avap_executor_runs_total{lane="interactive",outcome}
	outcomesB map[bus.Code]prometheus.Counter // the batch lane
	limits    map[bus.Code]prometheus.Counter // avap_executor_limit_hits_total{limit}
	duration  [2]prometheus.Observer          // avap_executor_run_duration_seconds{lane}
	wait      [2]prometheus.Observer          // avap_executor_queue_wait_seconds{lane}
	steps     prometheus.Counter
	stepsH    prometheus.Observer
	memory    prometheus.Observer
	other     [2]prometheus.Counter
}

// limitCodes are the wire codes of a limit hit and their label values.
var limitCodes = map[bus.Code]string{
	bus.CodeStepLimit: "steps", bus.CodeTimeout: "timeout", bus.CodeMemoryLimit: "memory",
	bus.CodeCallDepth: "call_depth", bus.CodeOutputLimit: "output",
}

func outcomeLabel(c bus.Code) string {
	if c == "" {
		return outcomeOK
	}
	return strings.ToLower(strings.TrimPrefix(string(c), "AVAP_"))
}

// newTelemetry registers the executor's metrics and wraps the Host so
// outside command calls get spans. It returns nil when both are off.
func newTelemetry(e *Executor) (*telemetry, error) {
	o := &e.opts
	if o.Metrics == nil && o.Tracer == nil {
		return nil, nil
	}
	t := &telemetry{}
	if o.Tracer != nil {
		t.tracer = o.Tracer.Tracer("github.com/avapmesh/avap/executor")
		t.serverSpan = trace.WithSpanKind(trace.SpanKindServer)
		for i, l := range bus.Lanes() {
			if i < len(t.spanNames) {
				t.spanNames[i] = "execute " + string(l)
			}
		}
		if o.Host != nil {
			o.Host = wrapHost(o.Host, t.tracer)
		}
	}
	if o.Metrics == nil {
		return t, nil
	}
	if o.Host != nil { // a metric per outside command call (host_metrics.go)
		hm, err := newHostCallMetrics(o.Metrics)
		if err != nil {
			return nil, err
		}
		o.Host = meterHost(o.Host, hm)
	}
	laneNames := []string{"interactive", "batch"}
	for _, l := range e.lanes {
		laneNames[laneIndex(l.name)] = string(l.name)
	}
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "avap_executor_runs_total",
		Help: "Execution requests answered by this executor, by lane and outcome (ok or the error code).",
	}, []string{"lane", "outcome"})
	limits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "avap_executor_limit_hits_total",
		Help: "Runs stopped by a sandbox limit, by limit.",
	}, []string{"limit"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "avap_executor_run_duration_seconds", Help: "VM time of a run (successful runs), by lane.", Buckets: runBuckets,
	}, []string{"lane"})
	wait := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "avap_executor_queue_wait_seconds", Help: "Time a request waited in the admission queue, by lane.", Buckets: runBuckets,
	}, []string{"lane"})
	steps := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "avap_vm_steps_total", Help: "VM instructions executed by successful runs.",
	})
	stepsH := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "avap_executor_run_steps", Help: "VM instructions per successful run.",
		Buckets: prometheus.ExponentialBuckets(10, 10, 8),
	})
	mem := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "avap_executor_run_peak_memory_bytes", Help: "Peak memory of the values a successful run allocated.",
		Buckets: prometheus.ExponentialBuckets(1024, 4, 10),
	})
	gauges := []prometheus.Collector{
		runs, limits, dur, wait, steps, stepsH, mem,
		e.laneGauge("avap_executor_queue_depth", "Requests admitted but not yet running, by lane.", func(l *lane) float64 { return float64(len(l.q)) }),
		e.laneGauge("avap_executor_queue_capacity", "Admission queue size, by lane.", func(l *lane) float64 { return float64(cap(l.q)) }),
		e.laneGauge("avap_executor_workers", "Worker pool size, by lane.", func(l *lane) float64 { return float64(l.workers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avap_executor_in_flight", Help: "Runs in progress."},
			func() float64 { return float64(e.stats.inFlight.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "avap_executor_rejections_total",
			Help: "Requests refused at admission because the queue was full (AVAP_OVERLOADED)."},
			func() float64 { return float64(e.stats.overloads.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "avap_executor_program_cache_hits_total",
			Help: "Compiled-program cache hits."}, func() float64 { return float64(e.stats.cacheHits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "avap_executor_program_cache_misses_total",
			Help: "Compiled-program cache misses (compilations)."}, func() float64 { return float64(e.stats.cacheMisses.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avap_executor_cached_programs", Help: "Compiled programs in the cache."},
			func() float64 { return float64(e.progs.len()) }),
	}
	for _, c := range gauges {
		if err := o.Metrics.Register(c); err != nil {
			return nil, err
		}
	}
	t.outcomes, t.outcomesB = map[bus.Code]prometheus.Counter{}, map[bus.Code]prometheus.Counter{}
	t.limits = map[bus.Code]prometheus.Counter{}
	for _, ci := range append([]bus.CodeInfo{{Code: ""}}, bus.Codes()...) {
		t.outcomes[ci.Code] = runs.WithLabelValues(laneNames[0], outcomeLabel(ci.Code))
		t.outcomesB[ci.Code] = runs.WithLabelValues(laneNames[1], outcomeLabel(ci.Code))
	}
	for c, name := range limitCodes {
		t.limits[c] = limits.WithLabelValues(name)
	}
	for i := range 2 {
		t.duration[i] = dur.WithLabelValues(laneNames[i])
		t.wait[i] = wait.WithLabelValues(laneNames[i])
		t.other[i] = runs.WithLabelValues(laneNames[i], "other")
	}
	t.steps, t.stepsH, t.memory = steps, stepsH, mem
	return t, nil
}

func (e *Executor) laneGauge(name, help string, f func(*lane) float64) prometheus.Collector {
	return laneGauge{desc: prometheus.NewDesc(name, help, []string{"lane"}, nil), e: e, f: f}
}

// laneGauge is a gauge per lane read at scrape time.
type laneGauge struct {
	desc *prometheus.Desc
	e    *Executor
	f    func(*lane) float64
}

func (g laneGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }
func (g laneGauge) Collect(ch chan<- prometheus.Metric) {
	for _, l := range g.e.lanes {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.f(l), string(l.name))
	}
}

// runObs is the telemetry state of a worker's current job.
type runObs struct {
	ctx     context.Context // the job's span context; nil when not traced
	span    trace.Span      // the job's span; nil when not traced
	started time.Time       // when the worker took the job (metrics only)
}

// traceparent returns the request's W3C trace context when tracing is on.
func (t *telemetry) traceparent(r micro.Request) string {
	if t == nil || t.tracer == nil {
		return ""
	}
	return r.Headers().Get(bus.HeaderTraceparent)
}

// begin starts the span of job j (from its admission, so queue time shows)
// and leaves its context in w.obs.ctx for the run and its commands.
func (t *telemetry) begin(e *Executor, w *workerState, l *lane, j *job) {
	w.obs.ctx, w.obs.span = nil, nil
	if t == nil {
		return
	}
	if t.outcomes != nil {
		w.obs.started = time.Now()
	}
	if t.tracer == nil {
		return
	}
	ctx := e.runCtx
	if j.tp != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{bus.HeaderTraceparent: j.tp})
	}
	w.obs.ctx, w.obs.span = t.tracer.Start(ctx, t.spanNames[laneIndex(l.name)], t.serverSpan, trace.WithTimestamp(j.admitted))
	if w.obs.span.IsRecording() { // an unsampled span takes no attributes
		w.obs.span.SetAttributes(attribute.String("messaging.system", "nats"), attribute.String("avap.executor_id", e.id))
	}
}

// end records the answered run of job j on lane l.
func (t *telemetry) end(w *workerState, l *lane, j *job, rep *bus.Reply) {
	if t == nil {
		return
	}
	li := laneIndex(l.name)
	if t.outcomes != nil {
		m := t.outcomes
		if li == 1 {
			m = t.outcomesB
		}
		c := rep.Code
		if rep.Success {
			c = ""
		}
		if ctr := m[c]; ctr != nil {
			ctr.Inc()
		} else {
			t.other[li].Inc()
		}
		if lc := t.limits[rep.Code]; lc != nil && !rep.Success {
			lc.Inc()
		}
		if rep.Success {
			t.duration[li].Observe(float64(rep.Stats.DurationUS) / 1e6)
			t.steps.Add(float64(rep.Stats.Steps))
			t.stepsH.Observe(float64(rep.Stats.Steps))
			t.memory.Observe(float64(rep.Stats.PeakMemory))
		}
		t.wait[li].Observe(w.obs.started.Sub(j.admitted).Seconds())
	}
	if w.obs.span != nil {
		w.obs.span.SetAttributes(attribute.Int64("avap.steps", rep.Stats.Steps), attribute.Int64("avap.peak_memory", rep.Stats.PeakMemory))
		if !rep.Success {
			w.obs.span.SetAttributes(attribute.String("avap.code", string(rep.Code)))
			w.obs.span.SetStatus(codes.Error, string(rep.Code))
		}
		w.obs.span.End()
		w.obs.ctx, w.obs.span = nil, nil
	}
}

// tracedHost gives every outside command call (HTTP, SQL...) a span.
type tracedHost struct {
	h      vm.Host
	tracer trace.Tracer
}

// tracedCapHost keeps CapabilityHost visible through the wrapper.
type tracedCapHost struct{ tracedHost }

func wrapHost(h vm.Host, tr trace.Tracer) vm.Host {
	th := tracedHost{h: h, tracer: tr}
	if _, ok := h.(CapabilityHost); ok {
		return tracedCapHost{th}
	}
	return th
}

func (t tracedHost) Call(ctx context.Context, command string, args []vm.Value) (vm.Value, error) {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return t.h.Call(ctx, command, args)
	}
	ctx, span := t.tracer.Start(ctx, "command "+command, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("avap.command", command)))
	defer span.End()
	v, err := t.h.Call(ctx, command, args)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return v, err
}

func (t tracedCapHost) WithCapabilities(c bus.Capability) vm.Host {
	return tracedHost{h: t.h.(CapabilityHost).WithCapabilities(c), tracer: t.tracer}
}

// runParent is the parent context of a run: the job's span context when
// traced, else the executor's run context.
func (e *Executor) runParent(w *workerState) context.Context {
	if w.obs.ctx != nil {
		return w.obs.ctx
	}
	return e.runCtx
}
