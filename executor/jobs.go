package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
)

// Defaults of JobOptions.
const (
	DefaultJobBackoffBase         = time.Second
	DefaultJobBackoffMax          = 5 * time.Minute
	DefaultCallbackTimeout        = 10 * time.Second
	DefaultCallbackMaxAttempts    = 8
	DefaultCallbackWorkers        = 4
	DefaultCallbackBackoffBase    = 2 * time.Second
	DefaultCallbackBackoffMax     = 10 * time.Minute
	jobFetchWait                  = 5 * time.Second
	jobFetchErrorBackoff          = 250 * time.Millisecond
	defaultJobInterruptRetryDelay = 100 * time.Millisecond
)

// JobOptions configure a JobRunner.
type JobOptions struct {
	Jobs *bus.Jobs // the job store; required

	// Workers is the number of jobs run at once; 0 = the executor's Workers.
	Workers int
	// BackoffBase and BackoffMax shape the delay before retrying a job that
	// failed with a retryable code (bus.CodeInfo.Retry): attempt n waits
	// bus.JobBackoff(n, base, max, jitter). 0 = the Default* values.
	BackoffBase, BackoffMax time.Duration
	// Heartbeat is how often a running (or held) job's message is marked in
	// progress; 0 = a third of the store's AckWait.
	Heartbeat time.Duration

	// CallbackSecret signs callbacks (HMAC-SHA256); callbacks are not
	// delivered without one (they are marked failed).
	CallbackSecret []byte
	// CallbackTimeout bounds one delivery; 0 = DefaultCallbackTimeout.
	CallbackTimeout time.Duration
	// CallbackMaxAttempts bounds deliveries of one callback; 0 = default.
	CallbackMaxAttempts int
	// CallbackWorkers is the number of concurrent deliveries; 0 = default.
	CallbackWorkers int
	// CallbackBackoffBase and CallbackBackoffMax shape redelivery delays.
	CallbackBackoffBase, CallbackBackoffMax time.Duration
	// CallbackEgress decides which hosts callbacks may reach (the same
	// policy type as the scripts' RequestGet/RequestPost); nil = any public
	// address, never loopback, private or link-local ones.
	CallbackEgress *EgressPolicy
	// Breakers guards callback delivery with one circuit breaker per
	// receiving host, named "callback:<host>" (host_breaker.go); or nil.
	Breakers *breaker.Group
	// CallbackBreaker configures those breakers (zero fields: breaker
	// defaults); refusals by the egress policy never count as failures.
	CallbackBreaker breaker.Options

	Audit  Auditor      // job outcomes are audited here; or nil
	Logger *slog.Logger // or nil for the executor's logger
}

// JobRunner consumes queued jobs on behalf of an Executor: one pull
// fetcher per priority holds at most one message each, and a dispatcher
// hands held messages to free workers by smooth weighted round robin
// (bus.JobWeights, 6:3:1) over the priorities that have one — high first,
// low never starved. A job's message is acknowledged only after its final
// state is stored in the job bucket; while it runs (or waits in a
// fetcher) the message is marked in progress every Heartbeat, so a job
// whose executor dies is redelivered after the consumer's AckWait.
type JobRunner struct {
	e    *Executor
	opts JobOptions
	log  *slog.Logger
	jobs *bus.Jobs

	slots   [3]*jobSlot // indexed like bus.Priorities()
	weights [3]int
	current [3]int        // smooth WRR state; dispatcher goroutine only
	notify  chan struct{} // a slot was filled
	sem     chan struct{} // worker tokens

	runCtx    context.Context
	cancelRun context.CancelCauseFunc
	fetchCtx  context.Context
	stopFetch context.CancelFunc

	mu      sync.Mutex // guards running
	running map[string]context.CancelCauseFunc

	cancelSub *nats.Subscription
	fetchers  sync.WaitGroup // fetchers, dispatcher, callback workers
	workers   sync.WaitGroup // running jobs

	started, stopping atomic.Bool
	ready             chan struct{}

	stats jobCounters

	callbackSecret atomic.Pointer[[]byte] // replaces opts.CallbackSecret once set (SetCallbackSecret)
}

type jobCounters struct {
	started, succeeded, failed, retried, dead, lost, canceled atomic.Int64
	callbacksOK, callbacksFailed                              atomic.Int64
}

// jobSlot holds the message a priority's fetcher got, until the
// dispatcher takes it.
type jobSlot struct {
	p     bus.Priority
	mu    sync.Mutex // guards msg
	msg   jetstream.Msg
	taken chan struct{} // cap 1: the dispatcher took msg
}

var (
	errJobCanceled    = errors.New("job canceled")
	errRunnerStopping = errors.New("job runner stopping")
)

// NewJobRunner validates opts and allocates a runner for e. It starts
// nothing; Start does.
func NewJobRunner(e *Executor, opts JobOptions) (*JobRunner, error) {
	if e == nil {
		return nil, errors.New("job runner: nil executor")
	}
	if opts.Jobs == nil {
		return nil, errors.New("job runner: Options.Jobs is required")
	}
	if opts.Workers <= 0 {
		opts.Workers = e.opts.Workers
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultJobBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultJobBackoffMax
	}
	opts.BackoffMax = max(opts.BackoffMax, opts.BackoffBase)
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.Jobs.Config().AckWait / 3
	}
	if opts.CallbackTimeout <= 0 {
		opts.CallbackTimeout = DefaultCallbackTimeout
	}
	if opts.CallbackMaxAttempts <= 0 {
		opts.CallbackMaxAttempts = DefaultCallbackMaxAttempts
	}
	if opts.CallbackWorkers <= 0 {
		opts.CallbackWorkers = DefaultCallbackWorkers
	}
	if opts.CallbackBackoffBase <= 0 {
		opts.CallbackBackoffBase = DefaultCallbackBackoffBase
	}
	if opts.CallbackBackoffMax <= 0 {
		opts.CallbackBackoffMax = DefaultCallbackBackoffMax
	}
	if opts.Logger == nil {
		opts.Logger = e.log
	}
	r := &JobRunner{
		e: e, opts: opts, log: opts.Logger, jobs: opts.Jobs,
		notify: make(chan struct{}, 1), sem: make(chan struct{}, opts.Workers),
		running: map[string]context.CancelCauseFunc{}, ready: make(chan struct{}),
	}
	w := bus.JobWeights()
	for i, p := range bus.Priorities() {
		r.slots[i] = &jobSlot{p: p, taken: make(chan struct{}, 1)}
		r.weights[i] = w[p]
	}
	r.runCtx, r.cancelRun = context.WithCancelCause(context.Background())
	r.fetchCtx, r.stopFetch = context.WithCancel(r.runCtx)
	return r, nil
}

// Ready is closed once Start has succeeded.
func (r *JobRunner) Ready() <-chan struct{} { return r.ready }

// JobStats are the runner's counters.
type JobStats struct {
	Started          int64 `json:"started"`
	Succeeded        int64 `json:"succeeded"`
	Failed           int64 `json:"failed"`
	Retried          int64 `json:"retried"`
	Dead             int64 `json:"dead"`
	Lost             int64 `json:"lost"` // attempts found abandoned by a dead executor
	Canceled         int64 `json:"canceled"`
	Running          int   `json:"running"`
	CallbacksOK      int64 `json:"callbacks_delivered"`
	CallbacksFailed  int64 `json:"callbacks_failed"`
	ConfiguredWorker int   `json:"workers"`
}

// Stats returns the runner's counters.
func (r *JobRunner) Stats() JobStats {
	r.mu.Lock()
	n := len(r.running)
	r.mu.Unlock()
	s := &r.stats
	return JobStats{
		Started: s.started.Load(), Succeeded: s.succeeded.Load(), Failed: s.failed.Load(), Retried: s.retried.Load(),
		Dead: s.dead.Load(), Lost: s.lost.Load(), Canceled: s.canceled.Load(), Running: n,
		CallbacksOK: s.callbacksOK.Load(), CallbacksFailed: s.callbacksFailed.Load(), ConfiguredWorker: r.opts.Workers,
	}
}

// Start subscribes to cancel notices and starts the fetchers, the
// dispatcher and the callback workers.
func (r *JobRunner) Start(ctx context.Context) error {
	if r.stopping.Load() {
		return ErrStopped
	}
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("job runner: already started")
	}
	var conses [3]jetstream.Consumer
	for i, p := range bus.Priorities() {
		c, err := r.jobs.Consumer(ctx, p)
		if err != nil {
			return fmt.Errorf("job runner: consumer %s: %w", p, err)
		}
		conses[i] = c
	}
	cbCons, err := r.jobs.CallbackConsumer(ctx)
	if err != nil {
		return fmt.Errorf("job runner: callback consumer: %w", err)
	}
	subj, _ := bus.JobCancelSubject("*")
	r.cancelSub, err = r.e.nc.Subscribe(subj, func(m *nats.Msg) {
		id := m.Subject[len(subj)-1:]
		r.mu.Lock()
		cancel := r.running[id]
		r.mu.Unlock()
		if cancel != nil {
			cancel(errJobCanceled)
		}
	})
	if err != nil {
		return fmt.Errorf("job runner: subscribe %s: %w", subj, err)
	}
	for i := range r.slots {
		r.fetchers.Go(func() { r.fetch(r.slots[i], conses[i]) })
	}
	r.fetchers.Go(r.dispatch)
	for range r.opts.CallbackWorkers {
		r.fetchers.Go(func() { r.callbackLoop(cbCons) })
	}
	close(r.ready)
	r.log.Info("job runner started", "workers", r.opts.Workers)
	return nil
}

// fetch pulls one message at a time from cons into s, keeping it in
// progress until the dispatcher takes it.
func (r *JobRunner) fetch(s *jobSlot, cons jetstream.Consumer) {
	for r.fetchCtx.Err() == nil {
		fctx, cancel := context.WithTimeout(r.fetchCtx, jobFetchWait)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			r.log.Debug("job fetch failed", "priority", s.p, "err", err)
			sleepCtx(r.fetchCtx, jobFetchErrorBackoff)
			continue
		}
		for msg := range batch.Messages() {
			r.hold(s, msg)
		}
		cancel()
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrTimeout) {
			r.log.Debug("job fetch ended", "priority", s.p, "err", err)
			sleepCtx(r.fetchCtx, jobFetchErrorBackoff)
		}
	}
}

// hold offers msg to the dispatcher and heartbeats it until taken; on
// shutdown it gives the message back (Nak) for another executor.
func (r *JobRunner) hold(s *jobSlot, msg jetstream.Msg) {
	s.mu.Lock()
	s.msg = msg
	s.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.taken:
			return
		case <-t.C:
			_ = msg.InProgress()
		case <-r.fetchCtx.Done():
			s.mu.Lock()
			still := s.msg == msg
			s.msg = nil
			s.mu.Unlock()
			if still {
				_ = msg.Nak()
				return
			}
			<-s.taken
			return
		}
	}
}

// dispatch waits for a free worker, then for a held message, and starts
// the job; among priorities holding a message it picks by smooth weighted
// round robin.
func (r *JobRunner) dispatch() {
	for {
		select {
		case r.sem <- struct{}{}:
		case <-r.fetchCtx.Done():
			return
		}
		for {
			i, msg := r.pick()
			if msg != nil {
				r.workers.Add(1)
				go func() {
					defer r.workers.Done()
					defer func() { <-r.sem }()
					r.process(r.slots[i].p, msg)
				}()
				break
			}
			select {
			case <-r.notify:
			case <-r.fetchCtx.Done():
				<-r.sem
				return
			}
		}
	}
}

// pick takes the message of the slot chosen by smooth weighted round
// robin among the non-empty slots (nginx's algorithm: add each weight to
// its current value, choose the largest, subtract the total from it).
func (r *JobRunner) pick() (int, jetstream.Msg) {
	var full [3]bool
	total := 0
	for i, s := range r.slots {
		s.mu.Lock()
		full[i] = s.msg != nil
		s.mu.Unlock()
		if full[i] {
			total += r.weights[i]
		}
	}
	if total == 0 {
		return 0, nil
	}
	best := -1
	for i := range r.slots {
		if !full[i] {
			continue
		}
		r.current[i] += r.weights[i]
		if best < 0 || r.current[i] > r.current[best] {
			best = i
		}
	}
	r.current[best] -= total
	s := r.slots[best]
	s.mu.Lock()
	msg := s.msg
	s.msg = nil
	s.mu.Unlock()
	if msg == nil { // the fetcher gave it back (shutdown)
		return 0, nil
	}
	s.taken <- struct{}{}
	return best, msg
}

// Shutdown stops fetching (held messages go back to the stream), lets
// running jobs finish within the executor's grace period, then interrupts
// them (they are requeued without using up an attempt). Idempotent.
func (r *JobRunner) Shutdown(ctx context.Context) error {
	if !r.stopping.CompareAndSwap(false, true) {
		return nil
	}
	if !r.started.Load() {
		return nil
	}
	if r.cancelSub != nil {
		_ = r.cancelSub.Unsubscribe()
	}
	r.stopFetch()
	done := make(chan struct{})
	go func() { r.workers.Wait(); r.fetchers.Wait(); close(done) }()
	grace := time.NewTimer(r.e.opts.GracePeriod)
	defer grace.Stop()
	var err error
	select {
	case <-done:
	case <-grace.C:
		r.cancelRun(errRunnerStopping)
		<-done
	case <-ctx.Done():
		r.cancelRun(errRunnerStopping)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		err = ctx.Err()
	}
	r.cancelRun(errRunnerStopping)
	r.log.Info("job runner stopped")
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
