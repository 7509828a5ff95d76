package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/avapmesh/avap/edge"
)

// telemetry owns the process's Prometheus registry and OpenTelemetry
// tracer provider (STYLE.md 2.1: only cmd/ builds them; libraries get a
// Registerer and a TracerProvider and treat nil as off). It is the first
// unit of a node, so it shuts down last and flushes the spans of the
// others.
type telemetry struct {
	reg *prometheus.Registry     // nil when metrics are off
	tp  *sdktrace.TracerProvider // nil when tracing is off
	log *slog.Logger

	mu    sync.Mutex                // guards debug
	debug map[string]edge.DebugFunc // /debug/vars sections by component
}

// newTelemetry builds the registry (Go runtime, process, build info and
// config reload metrics) and, when tracing is on, the OTLP exporter.
func newTelemetry(cfg *Config, holder *configHolder, b buildInfo, nodeID string, start time.Time, log *slog.Logger) (*telemetry, error) {
	t := &telemetry{log: log}
	if cfg.Metrics.Enabled {
		t.reg = prometheus.NewRegistry()
		lastOK := func() float64 {
			if holder.lastOK.Load() {
				return 1
			}
			return 0
		}
		lastTime := func() float64 {
			if ts := holder.lastTime.Load(); ts > 0 {
				return float64(ts)
			}
			return float64(start.Unix()) // the config loaded at start
		}
		if err := registerAll(t.reg,
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avap_config_last_reload_successful",
				Help: "Whether the last configuration reload attempt was successful (1) or not (0)."}, lastOK),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avap_config_last_reload_success_timestamp_seconds",
				Help: "Timestamp of the last successful configuration load."}, lastTime),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avap_build_info",
				Help:        "A metric with a constant '1' value labeled by version and Go version.",
				ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion, "node_id": nodeID},
			}, func() float64 { return 1 }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avap_start_time_seconds", Help: "Start time of the process."},
				func() float64 { return float64(start.Unix()) }),
		); err != nil {
			return nil, err
		}
	}
	if tracingEnabled(cfg) {
		tp, err := newTracerProvider(cfg, b, nodeID)
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		t.tp = tp
		log.Info("tracing on", "exporter", "otlp/http")
	}
	return t, nil
}

// tracingEnabled: tracing.enabled, or OTEL_TRACES_EXPORTER=otlp; never
// with OTEL_SDK_DISABLED=true.
func tracingEnabled(cfg *Config) bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return cfg.Tracing.Enabled || strings.EqualFold(os.Getenv("OTEL_TRACES_EXPORTER"), "otlp")
}

func newTracerProvider(cfg *Config, b buildInfo, nodeID string) (*sdktrace.TracerProvider, error) {
	var opts []otlptracehttp.Option
	if e := cfg.Tracing.Endpoint; e != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(e, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...) // builds a client; connects lazily
	if err != nil {
		return nil, err
	}
	name := cfg.Tracing.ServiceName
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "avap"
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", name), attribute.String("service.version", b.Version),
		attribute.String("service.instance.id", nodeID)))
	if err != nil {
		res = resource.Default()
	}
	if r, err := resource.New(context.Background(), resource.WithFromEnv()); err == nil {
		if m, err := resource.Merge(res, r); err == nil {
			res = m
		}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if r := cfg.Tracing.SampleRatio; r >= 0 {
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r))))
	} // else the SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on)
	return sdktrace.NewTracerProvider(tpOpts...), nil
}

// Registerer is where components register metrics; nil when metrics are
// off (an untyped nil, so libraries' nil checks work).
func (t *telemetry) Registerer() prometheus.Registerer {
	if t == nil || t.reg == nil {
		return nil
	}
	return t.reg
}

// Gatherer serves /metrics; nil when metrics are off.
func (t *telemetry) Gatherer() prometheus.Gatherer {
	if t == nil || t.reg == nil {
		return nil
	}
	return t.reg
}

// TracerProvider is given to components; nil when tracing is off.
func (t *telemetry) TracerProvider() trace.TracerProvider {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp
}

// register adds collectors; a failure (a duplicate) is logged, never fatal.
func (t *telemetry) register(cs ...prometheus.Collector) {
	if t == nil || t.reg == nil {
		return
	}
	if err := registerAll(t.reg, cs...); err != nil {
		t.log.Warn("metrics not registered", "err", err)
	}
}

func registerAll(r prometheus.Registerer, cs ...prometheus.Collector) error {
	var errs []error
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Start does nothing: the registry and provider exist from newTelemetry.
func (t *telemetry) Start(context.Context) error { return nil }

// Ready is always closed.
func (t *telemetry) Ready() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Shutdown flushes the spans still buffered.
func (t *telemetry) Shutdown(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		t.log.Warn("tracing: flush at shutdown failed", "err", err)
	}
	return nil
}

// natsCollector reports the client connection's counters at scrape time.
type natsCollector struct {
	conn                                              func() *nats.Conn
	reconnects, connected, inMsgs, outMsgs, inB, outB *prometheus.Desc
}

func newNATSCollector(conn func() *nats.Conn) *natsCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &natsCollector{
		conn:       conn,
		reconnects: d("avap_nats_reconnects_total", "Reconnections of this process's NATS client."),
		connected:  d("avap_nats_connected", "Whether the NATS client is connected (1) or not (0)."),
		inMsgs:     d("avap_nats_in_messages_total", "Messages received by the NATS client."),
		outMsgs:    d("avap_nats_out_messages_total", "Messages sent by the NATS client."),
		inB:        d("avap_nats_in_bytes_total", "Bytes received by the NATS client."),
		outB:       d("avap_nats_out_bytes_total", "Bytes sent by the NATS client."),
	}
}

func (c *natsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.reconnects, c.connected, c.inMsgs, c.outMsgs, c.inB, c.outB} {
		ch <- d
	}
}

func (c *natsCollector) Collect(ch chan<- prometheus.Metric) {
	nc := c.conn()
	var st nats.Statistics
	connected := 0.0
	if nc != nil {
		st = nc.Stats()
		if nc.IsConnected() {
			connected = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(st.Reconnects))
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(c.inMsgs, prometheus.CounterValue, float64(st.InMsgs))
	ch <- prometheus.MustNewConstMetric(c.outMsgs, prometheus.CounterValue, float64(st.OutMsgs))
	ch <- prometheus.MustNewConstMetric(c.inB, prometheus.CounterValue, float64(st.InBytes))
	ch <- prometheus.MustNewConstMetric(c.outB, prometheus.CounterValue, float64(st.OutBytes))
}

// funcCollector turns a stats snapshot function into const metrics at
// scrape time (job runner, audit sink, PostgreSQL pool, registry cache).
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (f funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}
func (f funcCollector) Collect(ch chan<- prometheus.Metric) { f.collect(ch) }

// addDebug registers a /debug/vars section (executor pool state, cache
// summary) served by this process's HTTP server.
func (t *telemetry) addDebug(name string, f edge.DebugFunc) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.debug == nil {
		t.debug = map[string]edge.DebugFunc{}
	}
	t.debug[name] = f
}

// debugSections is the edge.Options.Debug of this process: one "components"
// section gathering every addDebug entry at request time.
func (t *telemetry) debugSections() map[string]edge.DebugFunc {
	if t == nil {
		return nil
	}
	return map[string]edge.DebugFunc{"components": func(ctx context.Context) any {
		t.mu.Lock()
		fs := maps.Clone(t.debug)
		t.mu.Unlock()
		out := make(map[string]any, len(fs))
		for name, f := range fs {
			out[name] = f(ctx)
		}
		return out
	}}
}

// edgeOptions fills the telemetry fields of an edge (API or health-only).
func (w wiring) edgeTelemetry(o *edge.Options) {
	o.Metrics = w.Tel.Registerer()
	o.Gatherer = w.Tel.Gatherer()
	o.Tracer = w.Tel.TracerProvider()
	o.AdminToken = w.Config.Current().Debug.AdminToken.Reveal()
	o.Debug = w.Tel.debugSections()
}
