package main

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// StatsDConfig exports the Prometheus registry to StatsD/DogStatsD
// (metrics.statsd.*): the same series, pushed every interval.
type StatsDConfig struct {
	Address  string        `koanf:"address" help:"host:port of a StatsD/DogStatsD agent (UDP); empty = off"`
	Prefix   string        `koanf:"prefix" help:"prepended to every metric name, with a dot (prod -> prod.avap_...)"`
	Interval time.Duration `koanf:"interval" help:"how often the registry is gathered and sent"`
	Tags     bool          `koanf:"tags" help:"send labels as DogStatsD tags (name:value); false = plain StatsD, label values appended to the name"`
}

func (c StatsDConfig) validate() []problem {
	var ps []problem
	if c.Address != "" {
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			ps = append(ps, problem{"metrics.statsd.address", "want host:port"})
		}
	}
	if c.Interval <= 0 {
		ps = append(ps, problem{"metrics.statsd.interval", "must be positive"})
	}
	return ps
}

// statsdSink is the part of the DogStatsD client the exporter uses.
type statsdSink interface {
	Gauge(name string, value float64, tags []string, rate float64) error
	Count(name string, value int64, tags []string, rate float64) error
	Flush() error
	Close() error
}

// statsdExporter gathers a registry every interval and pushes it:
// counters as deltas since the previous push (fractions carried over),
// gauges and untyped as gauges, histograms and summaries as
// <name>_count (count delta), <name>_sum (gauge: sum added during the
// interval) and <name>_avg (gauge: that sum over that count).
type statsdExporter struct {
	g        prometheus.Gatherer
	c        statsdSink
	interval time.Duration
	tags     bool
	log      *slog.Logger

	mu   sync.Mutex         // guards last and sent (push may run from stop too)
	last map[string]float64 // cumulative value at the previous push, by series key
	sent map[string]float64 // counters: whole units already sent (carry)

	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
	ready    chan struct{}
}

// newStatsdUnit returns the StatsD exporter component, or nil when
// metrics or metrics.statsd.address are off.
func newStatsdUnit(cfg *Config, t *telemetry, log *slog.Logger) component {
	sc := cfg.Metrics.StatsD
	if sc.Address == "" || t.Gatherer() == nil {
		return nil
	}
	opts := []statsd.Option{statsd.WithoutTelemetry(), statsd.WithoutOriginDetection(), statsd.WithoutClientSideAggregation()}
	if sc.Prefix != "" { // the client appends a dot, and adds "." to an empty namespace
		opts = append(opts, statsd.WithNamespace(sc.Prefix))
	}
	c, err := statsd.New(sc.Address, opts...)
	if err != nil {
		log.Warn("statsd export off", "address", sc.Address, "err", err)
		return nil
	}
	log.Info("statsd export on", "address", sc.Address, "interval", sc.Interval)
	return newStatsdExporter(t.Gatherer(), c, sc, log)
}

func newStatsdExporter(g prometheus.Gatherer, c statsdSink, sc StatsDConfig, log *slog.Logger) *statsdExporter {
	if sc.Interval <= 0 {
		sc.Interval = 10 * time.Second
	}
	return &statsdExporter{g: g, c: c, interval: sc.Interval, tags: sc.Tags, log: log,
		last: map[string]float64{}, sent: map[string]float64{},
		stopc: make(chan struct{}), done: make(chan struct{}), ready: make(chan struct{})}
}

// Start begins the periodic push.
func (e *statsdExporter) Start(context.Context) error {
	close(e.ready)
	go e.loop()
	return nil
}

func (e *statsdExporter) Ready() <-chan struct{} { return e.ready }

// Shutdown pushes once more (the final counts) and closes the client.
func (e *statsdExporter) Shutdown(ctx context.Context) error {
	started := false
	select {
	case <-e.ready:
		started = true
	default:
	}
	e.stopOnce.Do(func() { close(e.stopc) })
	if started {
		select {
		case <-e.done:
		case <-ctx.Done():
		}
	}
	return e.c.Close()
}

func (e *statsdExporter) loop() {
	defer close(e.done)
	tk := time.NewTicker(e.interval)
	defer tk.Stop()
	for {
		select {
		case <-tk.C:
			e.push()
		case <-e.stopc:
			e.push()
			return
		}
	}
}

// push gathers the registry and sends one round.
func (e *statsdExporter) push() {
	mfs, err := e.g.Gather()
	if err != nil && len(mfs) == 0 {
		e.log.Warn("statsd: gather failed", "err", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			name, tags, key := e.series(name, m.GetLabel())
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				errs = append(errs, e.count(name, key, m.GetCounter().GetValue(), tags))
			case dto.MetricType_GAUGE:
				errs = append(errs, e.c.Gauge(name, m.GetGauge().GetValue(), tags, 1))
			case dto.MetricType_UNTYPED:
				errs = append(errs, e.c.Gauge(name, m.GetUntyped().GetValue(), tags, 1))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				errs = append(errs, e.summary(name, key, h.GetSampleSum(), float64(h.GetSampleCount()), tags)...)
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				errs = append(errs, e.summary(name, key, s.GetSampleSum(), float64(s.GetSampleCount()), tags)...)
			}
		}
	}
	errs = append(errs, e.c.Flush())
	if err := errors.Join(errs...); err != nil {
		e.log.Debug("statsd: send failed", "err", err)
	}
}

// series names one labelled series: DogStatsD tags, or (plain StatsD)
// the label values appended to the name. key identifies it for deltas.
func (e *statsdExporter) series(name string, labels []*dto.LabelPair) (string, []string, string) {
	var b strings.Builder
	b.WriteString(name)
	var tags []string
	for _, l := range labels {
		b.WriteByte('|')
		b.WriteString(l.GetName())
		b.WriteByte('=')
		b.WriteString(l.GetValue())
		if e.tags {
			tags = append(tags, l.GetName()+":"+l.GetValue())
		} else if v := statsdSafe(l.GetValue()); v != "" {
			name += "." + v
		}
	}
	return name, tags, b.String()
}

// statsdSafe keeps a label value from breaking the line protocol.
func statsdSafe(v string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ':', '|', '@', '#', ',', ' ', '\n', '/':
			return '_'
		}
		return r
	}, v)
}

// count sends the growth of a cumulative counter since the last push, in
// whole units; the fraction is carried to the next push. The registry is
// this process's, so its counters start at zero: the first push sends the
// whole value. A counter that went down (its source restarted) counts
// from zero again.
func (e *statsdExporter) count(name, key string, v float64, tags []string) error {
	if v < e.last[key] {
		e.sent[key] = 0
	}
	e.last[key] = v
	d := math.Floor(v) - e.sent[key]
	if d <= 0 {
		return nil
	}
	e.sent[key] += d
	return e.c.Count(name, int64(d), tags, 1)
}

// summary sends a histogram or summary as _count, _sum and _avg of the
// interval; nothing when no sample was observed.
func (e *statsdExporter) summary(name, key string, sum, cnt float64, tags []string) []error {
	ps, pc := e.last[key+"#sum"], e.last[key+"#count"]
	e.last[key+"#sum"], e.last[key+"#count"] = sum, cnt
	if cnt < pc { // reset
		ps, pc = 0, 0
	}
	ds, dc := sum-ps, cnt-pc
	if dc <= 0 {
		return nil
	}
	return []error{e.c.Count(name+"_count", int64(dc), tags, 1), e.c.Gauge(name+"_sum", ds, tags, 1),
		e.c.Gauge(name+"_avg", ds/dc, tags, 1)}
}
