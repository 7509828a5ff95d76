package executor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
	"github.com/avapmesh/avap/vm"
)

type hostFunc func(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error)

func (f hostFunc) Call(ctx context.Context, cmd string, args []vm.Value) (vm.Value, error) {
	return f(ctx, cmd, args)
}

// auditRec collects audit events.
type auditRec struct {
	mu  sync.Mutex
	evs []bus.AuditEvent
}

func (a *auditRec) Emit(ev bus.AuditEvent) bool {
	a.mu.Lock()
	a.evs = append(a.evs, ev)
	a.mu.Unlock()
	return true
}

func (a *auditRec) kind(k string) []bus.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []bus.AuditEvent
	for _, e := range a.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// waitAudit polls until at least n events of kind k were emitted (5 s at
// most) and returns them. The runner emits a job's audit event after it
// stores the job's final state, so a test that saw the state must wait for
// the event rather than sleep and hope.
func (a *auditRec) waitAudit(t *testing.T, k string, n int) []bus.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs := a.kind(k)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s audit events after 5s, want %d: %+v", len(evs), k, n, evs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var testJobsConfig = bus.JobsConfig{AckWait: time.Second, MaxAttempts: 3, Memory: true}

func openJobs(t testing.TB, nc *nats.Conn, cfg bus.JobsConfig) *bus.Jobs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := bus.OpenJobs(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func startRunner(t testing.TB, e *Executor, o JobOptions) *JobRunner {
	t.Helper()
	r, err := NewJobRunner(e, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

func submit(t testing.TB, j *bus.Jobs, p bus.Priority, script, callback string) string {
	t.Helper()
	req := bus.Request{ID: "req-" + string(p), Lane: bus.LaneBatch, Script: script}
	rec, created, err := j.Submit(context.Background(), bus.JobSubmission{
		Priority: p, Request: req.AppendMsgpack(nil), RequestID: req.ID, CallbackURL: callback,
	})
	if err != nil || !created {
		t.Fatalf("submit: %v (created %v)", err, created)
	}
	return rec.ID
}

func waitState(t testing.TB, j *bus.Jobs, id string, want bus.JobState, within time.Duration) *bus.JobRecord {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rec, _, err := j.Get(context.Background(), id)
		if err == nil && rec.State == want {
			return rec
		}
		if time.Now().After(deadline) {
			if rec != nil {
				b, _ := json.MarshalIndent(rec, "", " ")
				t.Fatalf("job %s: state %s, want %s\n%s", id, rec.State, want, b)
			}
			t.Fatalf("job %s: %v, want state %s", id, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobLifecycle(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	aud := &auditRec{}
	e := start(t, Options{Conn: nc, Workers: 2})
	startRunner(t, e, JobOptions{Jobs: jobs, Audit: aud})

	id := submit(t, jobs, bus.PriorityNormal, "addVar(x, 5)\naddResult(x)", "")
	rec := waitState(t, jobs, id, bus.JobSucceeded, 5*time.Second)
	if rec.Attempts != 1 || rec.Reply == nil || string(rec.Reply.Result) != `{"x":5}` || rec.FinishedAt == nil {
		t.Fatalf("record = %+v", rec)
	}
	env := JobEnvelope(rec)
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil || m["success"] != true || m["request_id"] != "req-normal" {
		t.Fatalf("envelope %s: %v", env, err)
	}
	// A script error is final at once: no retry.
	id2 := submit(t, jobs, bus.PriorityHigh, "addVar(", "")
	rec2 := waitState(t, jobs, id2, bus.JobFailed, 5*time.Second)
	if rec2.Attempts != 1 || rec2.Reply.Code != bus.CodeSyntax {
		t.Fatalf("syntax error job = %+v", rec2)
	}
	aud.waitAudit(t, bus.AuditJob, 2)
	// Which job's event came first is up to the scheduler: pick the first
	// job's by id.
	evs := aud.kind(bus.AuditJob)
	var first *bus.AuditEvent
	for i := range evs {
		if evs[i].JobID == id {
			first = &evs[i]
		}
	}
	if len(evs) != 2 || first == nil || first.ScriptHash == "" || first.Limits == nil ||
		(evs[0].JobID != id2 && evs[1].JobID != id2) {
		t.Fatalf("audit events = %+v", evs)
	}
	// Finished jobs cannot be canceled.
	if _, err := jobs.Cancel(context.Background(), id); !errors.Is(err, bus.ErrJobFinished) {
		t.Fatalf("cancel finished job: %v", err)
	}
}

func TestJobCancelRunning(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, _ := nats.Connect("", nats.InProcessServer(s))
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	started := make(chan struct{}, 1)
	host := hostFunc(func(ctx context.Context, _ string, _ []vm.Value) (vm.Value, error) {
		started <- struct{}{}
		<-ctx.Done()
		return vm.None, ctx.Err()
	})
	e := start(t, Options{Conn: nc, Workers: 1, Host: host})
	r := startRunner(t, e, JobOptions{Jobs: jobs})
	id := submit(t, jobs, bus.PriorityNormal, `RequestGet("http://x", "", "", r)`, "")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("job did not start")
	}
	if _, err := jobs.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	waitState(t, jobs, id, bus.JobCanceled, time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for r.Stats().Canceled != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("run not canceled: %+v", r.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJobPriorities fills all three queues before a one-worker runner
// starts and checks the start order follows the 6:3:1 policy: high
// dominates, and low jobs start long before the high queue is empty.
func TestJobPriorities(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, _ := nats.Connect("", nats.InProcessServer(s))
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	host := hostFunc(func(ctx context.Context, _ string, _ []vm.Value) (vm.Value, error) {
		time.Sleep(4 * time.Millisecond) // longer than a fetch round trip
		return vm.String("ok"), nil
	})
	prio := map[string]bus.Priority{}
	for _, n := range []struct {
		p bus.Priority
		n int
	}{{bus.PriorityHigh, 30}, {bus.PriorityNormal, 30}, {bus.PriorityLow, 10}} {
		for range n.n {
			prio[submit(t, jobs, n.p, `RequestGet("http://x", "", "", r)`, "")] = n.p
		}
	}
	e := start(t, Options{Conn: nc, Workers: 1, Host: host})
	startRunner(t, e, JobOptions{Jobs: jobs, Workers: 1})
	type start struct {
		at time.Time
		p  bus.Priority
	}
	var starts []start
	for id, p := range prio {
		rec := waitState(t, jobs, id, bus.JobSucceeded, 10*time.Second)
		starts = append(starts, start{*rec.StartedAt, p})
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].at.Before(starts[j].at) })
	count := map[bus.Priority]int{}
	firstLow := -1
	for i, s := range starts {
		if i < 20 {
			count[s.p]++
		}
		if s.p == bus.PriorityLow && firstLow < 0 {
			firstLow = i
		}
	}
	t.Logf("first 20 starts: %v; first low at %d", count, firstLow)
	if count[bus.PriorityHigh] < 10 || count[bus.PriorityHigh] <= count[bus.PriorityNormal] {
		t.Errorf("high not served first: %v", count)
	}
	if count[bus.PriorityLow] < 1 || firstLow > 15 {
		t.Errorf("low starved: first low start at %d, first 20 = %v", firstLow, count)
	}
}

// TestJobRedeliveryAfterExecutorDeath: executor A takes a job and dies
// (its connection closes mid-run); the job is redelivered after AckWait to
// executor B and completes exactly once.
func TestJobRedeliveryAfterExecutorDeath(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	ncA := connect(t, s)
	ncB := connect(t, s)
	jobs := openJobs(t, ncB, testJobsConfig)
	jobsA := openJobs(t, ncA, testJobsConfig)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	hostA := hostFunc(func(ctx context.Context, _ string, _ []vm.Value) (vm.Value, error) {
		started <- struct{}{}
		<-release
		return vm.String("A"), nil
	})
	defer close(release)
	audA, audB := &auditRec{}, &auditRec{}
	eA := start(t, Options{Conn: ncA, Workers: 1, Host: hostA, GracePeriod: 100 * time.Millisecond})
	startRunner(t, eA, JobOptions{Jobs: jobsA, Audit: audA, Heartbeat: 200 * time.Millisecond})
	id := submit(t, jobs, bus.PriorityHigh, `RequestGet("http://x", "", "", r)`+"\naddResult(r)", "")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("A did not start the job")
	}
	ncA.Close() // A dies: no heartbeat, no outcome

	hostB := hostFunc(func(context.Context, string, []vm.Value) (vm.Value, error) { return vm.String("B"), nil })
	eB := start(t, Options{Conn: ncB, Workers: 1, Host: hostB})
	startRunner(t, eB, JobOptions{Jobs: jobs, Audit: audB})
	rec := waitState(t, jobs, id, bus.JobSucceeded, 10*time.Second)
	if rec.Attempts != 2 || string(rec.Reply.Result) != `{"r":"B"}` || rec.Executor != eB.ID() {
		t.Fatalf("record = %+v", rec)
	}
	if len(rec.History) != 2 || rec.History[0].Outcome != "lost" || rec.History[0].Code != bus.CodeExecutorLost {
		t.Fatalf("history = %+v", rec.History)
	}
	// B emits its audit event after storing the outcome: wait for it, then
	// give a duplicate (from A, or a second one from B) a moment to show up.
	// A is still blocked in its host call, so it cannot emit before release.
	audB.waitAudit(t, bus.AuditJob, 1)
	time.Sleep(100 * time.Millisecond)
	if n := len(audB.kind(bus.AuditJob)) + len(audA.kind(bus.AuditJob)); n != 1 {
		t.Fatalf("%d final audit events, want 1", n)
	}
}

// TestJobRetriesDeadLetterRedrive: a job failing with a retryable code is
// retried with growing backoff, dead-lettered after MaxAttempts, and runs
// again after a redrive.
func TestJobRetriesDeadLetterRedrive(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, _ := nats.Connect("", nats.InProcessServer(s))
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	var healthy atomic.Bool
	host := hostFunc(func(context.Context, string, []vm.Value) (vm.Value, error) {
		if healthy.Load() {
			return vm.String("up"), nil
		}
		return vm.None, bus.NewError(bus.CodeDependencyUnavailable, "db down")
	})
	e := start(t, Options{Conn: nc, Workers: 2, Host: host})
	startRunner(t, e, JobOptions{Jobs: jobs, BackoffBase: 60 * time.Millisecond, BackoffMax: time.Second})
	id := submit(t, jobs, bus.PriorityNormal, `RequestGet("http://x", "", "", r)`+"\naddResult(r)", "")
	rec := waitState(t, jobs, id, bus.JobDead, 10*time.Second)
	if rec.Attempts != 3 {
		t.Fatalf("attempts = %d", rec.Attempts)
	}
	var retries []bus.JobAttempt
	var starts []time.Time
	for _, h := range rec.History {
		if h.Outcome == "retry" {
			retries = append(retries, h)
		}
		if h.Outcome == "retry" || h.Outcome == "failed" {
			starts = append(starts, h.StartedAt)
		}
	}
	if len(retries) != 2 || len(starts) != 3 {
		t.Fatalf("history = %+v", rec.History)
	}
	var prev time.Duration
	for i, h := range retries {
		d := h.RetryAt.Sub(*h.FinishedAt)
		base := 60 * time.Millisecond << i
		if d < base/2 || d > base || d < prev {
			t.Errorf("retry %d delay %v, want in [%v, %v] and not below %v", i+1, d, base/2, base, prev)
		}
		prev = d
		if gap := starts[i+1].Sub(*h.FinishedAt); gap < d-5*time.Millisecond {
			t.Errorf("attempt %d started %v after the failure, before its backoff %v", i+2, gap, d)
		}
		if h.Code != bus.CodeDependencyUnavailable {
			t.Errorf("retry code %s", h.Code)
		}
	}
	dl, err := jobs.DeadLetter(context.Background(), id)
	if err != nil || dl.Attempts != 3 || dl.LastCode != bus.CodeDependencyUnavailable || dl.Reason == "" || len(dl.Request) == 0 {
		t.Fatalf("dead letter = %+v, %v", dl, err)
	}
	list, _, err := jobs.DeadLetters(context.Background(), 0, 10)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("dlq list = %+v, %v", list, err)
	}

	healthy.Store(true)
	if _, err := jobs.Redrive(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	rec = waitState(t, jobs, id, bus.JobSucceeded, 5*time.Second)
	if rec.Attempts != 1 || string(rec.Reply.Result) != `{"r":"up"}` {
		t.Fatalf("after redrive: %+v", rec)
	}
	if _, err := jobs.DeadLetter(context.Background(), id); !errors.Is(err, bus.ErrJobNotFound) {
		t.Fatalf("dead letter still there: %v", err)
	}
}

func TestJobCallbackSigned(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, _ := nats.Connect("", nats.InProcessServer(s))
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	secret := []byte("s3cret")
	var calls atomic.Int32
	got := make(chan CallbackBody, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := VerifyCallback(secret, r.Header.Get(HeaderCallbackTimestamp), r.Header.Get(HeaderCallbackSignature), body, time.Minute, time.Now()); err != nil {
			t.Errorf("verify: %v", err)
		}
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway) // first delivery fails: retried
			return
		}
		var cb CallbackBody
		_ = json.Unmarshal(body, &cb)
		got <- cb
	}))
	defer srv.Close()
	policy, err := NewEgressPolicy([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, Options{Conn: nc, Workers: 1})
	startRunner(t, e, JobOptions{Jobs: jobs, CallbackSecret: secret, CallbackEgress: policy, CallbackBackoffBase: 50 * time.Millisecond})
	id := submit(t, jobs, bus.PriorityNormal, "addVar(x, 1)\naddResult(x)", srv.URL+"/hook")
	select {
	case cb := <-got:
		if cb.ID != id || cb.State != bus.JobSucceeded || len(cb.Result) == 0 {
			t.Fatalf("callback = %+v", cb)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		rec, _, _ := jobs.Get(context.Background(), id)
		if rec.Callback != nil && rec.Callback.State == "delivered" {
			if rec.Callback.Attempts != 2 {
				t.Fatalf("callback attempts %d", rec.Callback.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback state %+v", rec.Callback)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobBackoffNeverShrinks(t *testing.T) {
	for n := 1; n < 12; n++ {
		lo := bus.JobBackoff(n+1, time.Second, time.Minute, 0)
		hi := bus.JobBackoff(n, time.Second, time.Minute, 0.9999)
		if time.Second<<n <= time.Minute && lo < hi { // below the cap
			t.Errorf("attempt %d: min next %v < max this %v", n, lo, hi)
		}
	}
	if d := bus.JobBackoff(30, time.Second, time.Minute, 0.5); d > time.Minute {
		t.Errorf("cap exceeded: %v", d)
	}
}
