package executor

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// Per-call metrics of the outside commands (issue 12: "each call a span
// and a metric"): avap_executor_host_calls_total{command,result} and
// avap_executor_host_call_duration_seconds{command}, registered on
// Options.Metrics next to the run metrics (observe.go). Labels are
// bounded: command is one of hostCommands (connector methods such as
// .query share ".method"), anything else "other"; result is ok, error,
// denied (capability or egress policy refused it, or an open circuit
// breaker) or timeout (the call's or the run's deadline). Children are
// resolved once, so a call costs two map lookups and two atomic adds.
//
// RequestPost reports a failed request as a value ({"error": ...}), not
// an error, so such calls count as ok; RequestGet raises and counts as
// error.

// hostCommands are the commands the Host implements, as metric labels.
var hostCommands = []string{
	"RequestGet", "RequestPost", "avapConnector", "ormDirect", "ormCheckTable",
	"ormAccessSelect", "ormAccessInsert", "ormAccessUpdate", "registerEndpoint",
	hostMethodLabel, hostOtherLabel,
}

const (
	hostMethodLabel = ".method" // connector methods (.query ...)
	hostOtherLabel  = "other"
)

// hostCallBuckets cover calls from 100 µs to the 60 s maximum time limit.
var hostCallBuckets = []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// hostResults are the values of the result label.
var hostResults = []string{"ok", "error", "denied", "timeout"}

type hostCallMetrics struct {
	calls    map[string]*[4]prometheus.Counter // by command, indexed like hostResults
	duration map[string]prometheus.Observer
}

// newHostCallMetrics registers the Host call metrics on reg.
func newHostCallMetrics(reg prometheus.Registerer) (*hostCallMetrics, error) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "avap_executor_host_calls_total",
		Help: "Outside command calls (RequestGet, RequestPost, SQL...) by command and result (ok, error, denied, timeout).",
	}, []string{"command", "result"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "avap_executor_host_call_duration_seconds", Help: "Duration of outside command calls, by command.",
		Buckets: hostCallBuckets,
	}, []string{"command"})
	for _, c := range []prometheus.Collector{calls, dur} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m := &hostCallMetrics{calls: map[string]*[4]prometheus.Counter{}, duration: map[string]prometheus.Observer{}}
	for _, cmd := range hostCommands {
		var cs [4]prometheus.Counter
		for i, r := range hostResults {
			cs[i] = calls.WithLabelValues(cmd, r)
		}
		m.calls[cmd] = &cs
		m.duration[cmd] = dur.WithLabelValues(cmd)
	}
	return m, nil
}

func hostCommandLabel(command string) string {
	if len(command) > 1 && command[0] == '.' {
		return hostMethodLabel
	}
	return command
}

// resultIndex classifies a call's error into hostResults.
func hostResultIndex(ctx context.Context, err error) int {
	var ne net.Error
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrCapability), errors.Is(err, ErrEgressDenied), errors.Is(err, ErrCircuitOpen):
		return 2
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, vm.ErrTimeout),
		errors.As(err, &ne) && ne.Timeout(), ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return 3
	}
	return 1
}

func (m *hostCallMetrics) observe(ctx context.Context, command string, start time.Time, err error) {
	label := hostCommandLabel(command)
	cs := m.calls[label]
	if cs == nil {
		label = hostOtherLabel
		cs = m.calls[label]
	}
	cs[hostResultIndex(ctx, err)].Inc()
	m.duration[label].Observe(time.Since(start).Seconds())
}

// meteredHost counts and times every outside command call.
type meteredHost struct {
	h vm.Host
	m *hostCallMetrics
}

// meteredCapHost keeps CapabilityHost visible through the wrapper.
type meteredCapHost struct{ meteredHost }

func meterHost(h vm.Host, m *hostCallMetrics) vm.Host {
	mh := meteredHost{h: h, m: m}
	if _, ok := h.(CapabilityHost); ok {
		return meteredCapHost{mh}
	}
	return mh
}

func (t meteredHost) Call(ctx context.Context, command string, args []vm.Value) (vm.Value, error) {
	start := time.Now()
	v, err := t.h.Call(ctx, command, args)
	t.m.observe(ctx, command, start, err)
	return v, err
}

func (t meteredCapHost) WithCapabilities(c bus.Capability) vm.Host {
	return meteredHost{h: t.h.(CapabilityHost).WithCapabilities(c), m: t.m}
}

// Close closes the wrapped Host when it has a Close method (the executor
// closes its Host on Shutdown through the telemetry wrappers).
func (t meteredHost) Close() { closeHost(t.h) }

// Close closes the wrapped Host when it has a Close method.
func (t tracedHost) Close() { closeHost(t.h) }

func closeHost(h vm.Host) {
	if c, ok := h.(interface{ Close() }); ok {
		c.Close()
	}
}
