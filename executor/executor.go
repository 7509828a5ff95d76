package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// Executor is one member of the avap-executor queue group.
type Executor struct {
	opts  Options
	log   *slog.Logger
	nc    *nats.Conn
	progs *programCache

	lanes [2]*lane // indexed by laneIndex

	machines sync.Pool // *vm.Machine

	named   sync.Map // command name -> namedEntry (program of a stored script)
	store   CommandStore
	kvStore *kvCommands // store when it is the JetStream bucket; closed on Shutdown

	// runCtx is the parent of every run; canceled when the grace period of
	// Shutdown ends.
	runCtx    context.Context
	cancelRun context.CancelCauseFunc

	svc   micro.Service
	id    string
	ready chan struct{}

	started  atomic.Bool
	stopping atomic.Bool
	abandon  atomic.Bool // Shutdown gave up waiting: queued jobs are answered, not run
	stopped  chan struct{}
	stopErr  error

	wg sync.WaitGroup // worker goroutines

	stats counters
	tel   *telemetry // metrics and spans (observe.go); nil when both are off

	defaults atomic.Pointer[vm.Limits] // limits of requests that set none; SetDefaultLimits swaps it
}

type namedEntry struct {
	rev  uint64
	prog *vm.Program
}

// lane is one bulkhead: a bounded admission queue and its workers.
type lane struct {
	name    bus.Lane
	subject string
	workers int

	mu     sync.RWMutex // guards closed and sends on q (held shared by admitters)
	closed bool
	q      chan job
}

// job is an admitted request.
type job struct {
	data     []byte
	reply    string
	admitted time.Time
	tp       string // W3C traceparent, only when tracing (observe.go)
}

func laneIndex(l bus.Lane) int {
	if l == bus.LaneBatch {
		return 1
	}
	return 0
}

// New validates opts and allocates an Executor. It starts no goroutine and
// touches no network; Start does.
func New(opts Options) (*Executor, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	progs, err := newProgramCache(opts.CacheSize, opts.CompileOptions)
	if err != nil {
		return nil, fmt.Errorf("executor: program cache: %w", err)
	}
	e := &Executor{
		opts:    opts,
		log:     opts.Logger,
		nc:      opts.Conn,
		progs:   progs,
		store:   opts.Commands,
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
	}
	e.machines.New = func() any { return vm.NewMachine() }
	e.SetDefaultLimits(opts.DefaultLimits)
	e.runCtx, e.cancelRun = context.WithCancelCause(context.Background())
	for _, l := range bus.Lanes() {
		subj, err := bus.ExecSubject(l)
		if err != nil {
			return nil, err
		}
		workers := opts.Workers
		if l == bus.LaneBatch {
			workers = opts.BatchWorkers
		}
		qs := opts.QueueSize
		if qs == 0 {
			qs = DefaultQueuePerWorker * workers
		}
		e.lanes[laneIndex(l)] = &lane{name: l, subject: subj, workers: workers, q: make(chan job, qs)}
	}
	if e.tel, err = newTelemetry(e); err != nil {
		return nil, fmt.Errorf("executor: metrics: %w", err)
	}
	return e, nil
}

// SetDefaultLimits changes the limits of runs that do not set their own
// (a config reload); zero fields take vm.DefaultLimits() and every field is
// capped by Options.MaxLimits. Runs already going keep their limits.
func (e *Executor) SetDefaultLimits(l vm.Limits) {
	l = fill(l, vm.DefaultLimits())
	mx := e.opts.MaxLimits
	l.MaxSteps = min(l.MaxSteps, mx.MaxSteps)
	l.Timeout = min(l.Timeout, mx.Timeout)
	l.MaxMemoryBytes = min(l.MaxMemoryBytes, mx.MaxMemoryBytes)
	l.MaxCallDepth = min(l.MaxCallDepth, mx.MaxCallDepth)
	l.MaxOutputBytes = min(l.MaxOutputBytes, mx.MaxOutputBytes)
	e.defaults.Store(&l)
}

// ID returns the executor id (the micro service instance id); "" before Start.
func (e *Executor) ID() string { return e.id }

// Ready is closed once Start has succeeded.
func (e *Executor) Ready() <-chan struct{} { return e.ready }

// Start opens the command store, starts the workers and registers the
// micro service, returning once requests are being served.
func (e *Executor) Start(ctx context.Context) error {
	if e.stopping.Load() {
		return ErrStopped
	}
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("executor: already started")
	}
	if e.store == nil {
		if err := e.openStore(ctx); err != nil {
			return err
		}
	}
	for _, l := range e.lanes {
		for range l.workers {
			e.wg.Add(1)
			go e.worker(l)
		}
	}
	meta := map[string]string{
		"lanes":   string(bus.LaneInteractive) + "," + string(bus.LaneBatch),
		"workers": strconv.Itoa(e.opts.Workers),
	}
	maps.Copy(meta, e.opts.Metadata)
	svc, err := micro.AddService(e.nc, micro.Config{
		Name:         bus.ExecutorService,
		Version:      e.opts.Version,
		Description:  "AVAP script executor",
		QueueGroup:   bus.ExecutorQueue,
		Metadata:     meta,
		StatsHandler: e.endpointStats,
		ErrorHandler: func(_ micro.Service, err *micro.NATSError) {
			e.log.Warn("executor service error", "subject", err.Subject, "err", err.Description)
		},
	})
	if err != nil {
		e.stopWorkers()
		return fmt.Errorf("executor: add micro service: %w", err)
	}
	e.svc = svc
	e.id = svc.Info().ID
	for _, l := range e.lanes {
		l := l
		if err := svc.AddEndpoint(string(l.name), micro.HandlerFunc(func(r micro.Request) { e.admit(l, r) }),
			micro.WithEndpointSubject(l.subject)); err != nil {
			_ = svc.Stop()
			e.stopWorkers()
			return fmt.Errorf("executor: add endpoint %s: %w", l.subject, err)
		}
	}
	if err := svc.AddEndpoint("compile", micro.HandlerFunc(e.handleCompile),
		micro.WithEndpointSubject(bus.CompileSubject)); err != nil {
		_ = svc.Stop()
		e.stopWorkers()
		return fmt.Errorf("executor: add compile endpoint: %w", err)
	}
	if err := e.addZoneEndpoints(svc); err != nil {
		_ = svc.Stop()
		e.stopWorkers()
		return err
	}
	if err := e.addNodeEndpoints(svc); err != nil {
		_ = svc.Stop()
		e.stopWorkers()
		return err
	}
	if err := e.addProjectEndpoint(svc); err != nil {
		_ = svc.Stop()
		e.stopWorkers()
		return fmt.Errorf("executor: add project endpoint: %w", err)
	}
	// Make sure the server knows our subscriptions before we report ready.
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second) // Flush needs a deadline
	err = e.nc.FlushWithContext(fctx)
	cancel()
	if err != nil {
		_ = svc.Stop()
		e.stopWorkers()
		return fmt.Errorf("executor: flush: %w", err)
	}
	close(e.ready)
	e.log.Info("executor started", "id", e.id, "workers", e.opts.Workers, "batch_workers", e.opts.BatchWorkers,
		"queue", cap(e.lanes[0].q))
	return nil
}

// openStore uses the JetStream KV bucket when the server has JetStream and
// falls back to memory otherwise.
func (e *Executor) openStore(ctx context.Context) error {
	js, err := jetstream.New(e.nc)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var kv *kvCommands
		kv, err = openKVCommands(sctx, js, e.log)
		cancel()
		if err == nil {
			e.store, e.kvStore = kv, kv
			return nil
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("executor: open command store: %w", ctx.Err())
	}
	e.log.Warn("named scripts kept in memory only (no JetStream)", "err", err)
	e.store = NewMemoryCommands()
	return nil
}

// admit runs on the micro subscription goroutine: it only queues the
// request, or answers AVAP_OVERLOADED at once when the queue is full.
func (e *Executor) admit(l *lane, r micro.Request) {
	j := job{data: r.Data(), reply: r.Reply(), admitted: time.Now(), tp: e.tel.traceparent(r)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		e.reject(r, bus.CodeShuttingDown)
		return
	}
	select {
	case l.q <- j:
		l.mu.RUnlock()
	default:
		l.mu.RUnlock()
		e.stats.overloads.Add(1)
		e.reject(r, bus.CodeOverloaded)
	}
}

// reject answers a request that did not run.
func (e *Executor) reject(r micro.Request, code bus.Code) {
	if r.Reply() == "" {
		return
	}
	info, _ := bus.Lookup(code)
	rep := bus.Reply{Code: code, Status: info.Status, Error: info.Description, ExecutorID: e.id}
	_ = r.Error(strconv.Itoa(info.Num), info.Description, rep.AppendMsgpack(nil),
		micro.WithHeaders(micro.Headers{bus.HeaderCode: {string(code)}}))
}

func (e *Executor) worker(l *lane) {
	defer e.wg.Done()
	w := &workerState{buf: make([]byte, 0, 4096)}
	for j := range l.q {
		if e.abandon.Load() {
			e.answer(w, j.reply, &bus.Reply{Code: bus.CodeShuttingDown, Status: 503, Error: "executor shutting down; the request did not run"})
			continue
		}
		e.serve(w, l, j)
	}
}

// Shutdown stops the executor: the micro service stops (its queue-group
// subscriptions drain, so peers take new work), admitted runs finish within
// the grace period, then runs still going are canceled and requests still
// queued are answered AVAP_SHUTTING_DOWN (they never ran, so the edge
// retries them elsewhere). It is idempotent and bounded by ctx.
func (e *Executor) Shutdown(ctx context.Context) error {
	if !e.stopping.CompareAndSwap(false, true) {
		select {
		case <-e.stopped:
			return e.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(e.stopped)
	if !e.started.Load() {
		return nil
	}
	var errs []error
	if e.svc != nil {
		if err := e.svc.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop micro service: %w", err))
		}
	}
	e.closeLanes()

	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	grace := time.NewTimer(e.opts.GracePeriod)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		e.giveUp(done)
	case <-ctx.Done():
		e.giveUp(done)
		errs = append(errs, ctx.Err())
	}
	if e.kvStore != nil {
		e.kvStore.close()
	}
	e.cancelRun(errShutdown)
	if c, ok := e.opts.Host.(interface{ Close() }); ok {
		c.Close() // database pools, idle HTTP connections
	}
	e.stopErr = errors.Join(errs...)
	e.log.Info("executor stopped", "id", e.id)
	return e.stopErr
}

// giveUp cancels the runs in progress, answers the queued ones and waits
// for the workers, which now finish within one VM instruction.
func (e *Executor) giveUp(done <-chan struct{}) {
	e.log.Warn("executor grace period over; canceling runs", "in_flight", e.stats.inFlight.Load())
	e.abandon.Store(true)
	e.cancelRun(errShutdown)
	<-done
}

// closeLanes stops admission; the workers exit once their queue is empty.
func (e *Executor) closeLanes() {
	for _, l := range e.lanes {
		l.mu.Lock()
		if !l.closed {
			l.closed = true
			close(l.q)
		}
		l.mu.Unlock()
	}
}

func (e *Executor) stopWorkers() {
	e.closeLanes()
	e.wg.Wait()
}
