package executor

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/avapmesh/avap/vm"
)

// Defaults of Options.
const (
	// DefaultQueuePerWorker matches edge.DefaultInFlightPerCPU, so on a
	// serve node the edge's in-flight cap (a 503 before the body is read)
	// is reached before this queue: bursts of an open-loop client at half
	// the saturating rate overflowed a queue of 32 per worker.
	DefaultQueuePerWorker = 256
	DefaultCacheSize      = 4096
	DefaultGracePeriod    = 10 * time.Second
	// DefaultReplyMargin is subtracted from the caller's remaining time to
	// get the VM timeout, so the reply still reaches the caller in time.
	DefaultReplyMargin = 2 * time.Millisecond
	// DefaultVersion is the micro service version when Options.Version is empty.
	DefaultVersion = "0.1.0"
)

// Options configure an Executor.
type Options struct {
	Conn    *nats.Conn   // connection to the mesh; required
	Logger  *slog.Logger // or nil to discard logs
	Version string       // semver of the micro service; or "" for DefaultVersion

	// Workers is the number of concurrent runs per lane (interactive and
	// batch are separate pools); 0 means GOMAXPROCS.
	Workers int
	// BatchWorkers overrides Workers for the batch lane; 0 = Workers.
	BatchWorkers int
	// QueueSize bounds the requests admitted but not yet running, per lane;
	// a request beyond it is answered AVAP_OVERLOADED at once.
	// 0 = DefaultQueuePerWorker × workers.
	QueueSize int

	// DefaultLimits apply to a request that does not set a limit; zero
	// fields take vm.DefaultLimits().
	DefaultLimits vm.Limits
	// MaxLimits cap what a request may ask for; zero fields take
	// vm.DefaultLimits(), and no field is below the default.
	MaxLimits vm.Limits

	CompileOptions vm.CompileOptions // bounds on compiling one script
	CacheSize      int               // compiled programs kept; 0 = DefaultCacheSize

	// Commands stores named scripts; nil uses the JetStream KV bucket
	// bus.CommandsBucket when the server has JetStream, else memory.
	Commands CommandStore

	Host     vm.Host        // outside commands; or nil (they fail "not available")
	Location *time.Location // zone for dates; or nil for UTC

	// GracePeriod bounds how long Shutdown lets in-flight runs finish
	// before canceling them (Shutdown's context may end it sooner).
	// 0 = DefaultGracePeriod.
	GracePeriod time.Duration
	// ReplyMargin is kept from the caller's remaining time for the reply;
	// 0 = DefaultReplyMargin.
	ReplyMargin time.Duration

	Metadata map[string]string // extra micro service metadata; or nil

	// Zone, when set, makes the executor also serve its lanes on the
	// zone's subjects (bus.ZoneExecSubject), which edges of that zone try
	// first (locality.go).
	Zone string

	// Audit receives one event per run (sync and batch items; jobs are
	// audited by the JobRunner); or nil. Emit must not block.
	Audit Auditor

	// Metrics registers the executor's Prometheus metrics (runs by outcome,
	// limit hits, durations, queue depth...); or nil for none.
	Metrics prometheus.Registerer
	// Tracer gives each run and outside command call a span, children of
	// the caller's traceparent; or nil for none (no cost).
	Tracer trace.TracerProvider
}

func (o *Options) setDefaults() error {
	if o.Conn == nil {
		return fmt.Errorf("executor: %w", ErrNoConn)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchWorkers <= 0 {
		o.BatchWorkers = o.Workers
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.ReplyMargin <= 0 {
		o.ReplyMargin = DefaultReplyMargin
	}
	if o.QueueSize < 0 {
		return fmt.Errorf("executor: queue size %d < 0", o.QueueSize)
	}
	o.DefaultLimits = fill(o.DefaultLimits, vm.DefaultLimits())
	o.MaxLimits = fill(o.MaxLimits, vm.DefaultLimits())
	o.MaxLimits = vm.Limits{ // the maxima are never below the defaults
		MaxSteps:       max(o.MaxLimits.MaxSteps, o.DefaultLimits.MaxSteps),
		Timeout:        max(o.MaxLimits.Timeout, o.DefaultLimits.Timeout),
		MaxMemoryBytes: max(o.MaxLimits.MaxMemoryBytes, o.DefaultLimits.MaxMemoryBytes),
		MaxCallDepth:   max(o.MaxLimits.MaxCallDepth, o.DefaultLimits.MaxCallDepth),
		MaxOutputBytes: max(o.MaxLimits.MaxOutputBytes, o.DefaultLimits.MaxOutputBytes),
	}
	return nil
}

// fill replaces the zero fields of l by those of d.
func fill(l, d vm.Limits) vm.Limits {
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxMemoryBytes <= 0 {
		l.MaxMemoryBytes = d.MaxMemoryBytes
	}
	if l.MaxCallDepth <= 0 {
		l.MaxCallDepth = d.MaxCallDepth
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	return l
}
