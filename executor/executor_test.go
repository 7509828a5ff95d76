package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
	"github.com/avapmesh/avap/vm"
)

// needVM skips a test while the VM is still a stub.
func needVM(t testing.TB) {
	t.Helper()
	if _, err := vm.Compile("probe", []byte("addVar(x, 1)\naddResult(x)\n"), vm.CompileOptions{}); err != nil &&
		strings.Contains(err.Error(), "not implemented") {
		t.Skip("vm.Compile is still a stub")
	}
}

func connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func start(t testing.TB, opts Options) *Executor {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	return e
}

func call(t testing.TB, nc *nats.Conn, subject string, req *bus.Request, timeout time.Duration) (bus.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var rep bus.Reply
	err := bus.Call(ctx, nc, subject, req, &rep, nil)
	return rep, err
}

func run(t testing.TB, nc *nats.Conn, req *bus.Request) bus.Reply {
	t.Helper()
	lane := req.Lane
	if lane == "" {
		lane = bus.LaneInteractive
	}
	subj, _ := bus.ExecSubject(lane)
	rep, err := call(t, nc, subj, req, 10*time.Second)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	return rep
}

func TestNewRequiresConn(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoConn) {
		t.Fatalf("err = %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	s := natstest.Run(t)
	nc := connect(t, s)
	e := start(t, Options{Conn: nc, Workers: 2})
	select {
	case <-e.Ready():
	default:
		t.Fatal("not ready after Start")
	}
	subj, _ := bus.DiscoverySubject("INFO", bus.ExecutorService)
	msg, err := nc.Request(subj, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != e.ID() || info.Name != bus.ExecutorService {
		t.Errorf("info = %+v, id %s", info, e.ID())
	}
	got := map[string]string{}
	for _, ep := range info.Endpoints {
		got[ep.Subject] = ep.QueueGroup
	}
	for _, want := range []string{"avap.exec.v1.interactive", "avap.exec.v1.batch", bus.CompileSubject} {
		if got[want] != bus.ExecutorQueue {
			t.Errorf("endpoint %s: queue %q (all: %v)", want, got[want], got)
		}
	}
	subj, _ = bus.DiscoverySubject("STATS", bus.ExecutorService)
	msg, err = nc.Request(subj, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st micro.Stats
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		t.Fatal(err)
	}
	var data Stats
	if err := json.Unmarshal(st.Endpoints[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.ID != e.ID() || data.Workers["interactive"] != 2 || data.QueueCapacity["batch"] != 2*DefaultQueuePerWorker {
		t.Errorf("stats data = %+v", data)
	}
}

func TestShutdownIdempotent(t *testing.T) {
	s := natstest.Run(t)
	nc := connect(t, s)
	e := start(t, Options{Conn: nc})
	ctx := context.Background()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Shutdown: %v", err)
	}
	// Nobody serves the subject any more.
	subj, _ := bus.ExecSubject(bus.LaneInteractive)
	_, err := call(t, nc, subj, &bus.Request{Script: "x"}, time.Second)
	if !errors.Is(err, bus.NewError(bus.CodeNoExecutor, "")) {
		t.Errorf("after shutdown: %v", err)
	}
	// Shutdown of an executor never started.
	e2, _ := New(Options{Conn: nc})
	if err := e2.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}

// fakeRequest records how admit answered.
type fakeRequest struct {
	data  []byte
	code  string
	reply bus.Reply
}

func (f *fakeRequest) Respond([]byte, ...micro.RespondOpt) error  { return nil }
func (f *fakeRequest) RespondJSON(any, ...micro.RespondOpt) error { return nil }
func (f *fakeRequest) Error(code, _ string, data []byte, _ ...micro.RespondOpt) error {
	f.code = code
	return f.reply.UnmarshalMsgpack(data)
}
func (f *fakeRequest) Data() []byte           { return f.data }
func (f *fakeRequest) Headers() micro.Headers { return nil }
func (f *fakeRequest) Subject() string        { return "avap.exec.v1.interactive" }
func (f *fakeRequest) Reply() string          { return "_INBOX.x" }

func TestAdmitBoundedQueue(t *testing.T) {
	e, err := New(Options{Conn: &nats.Conn{}, Workers: 1, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	l := e.lanes[0]
	for i := range 2 {
		f := &fakeRequest{}
		e.admit(l, f)
		if f.code != "" {
			t.Fatalf("request %d refused: %s", i, f.code)
		}
	}
	f := &fakeRequest{}
	e.admit(l, f)
	if f.reply.Code != bus.CodeOverloaded || f.reply.Status != 503 || f.code != "3001" {
		t.Errorf("third request: code %q reply %+v", f.code, f.reply)
	}
	if got := e.Statz().Overloads; got != 1 {
		t.Errorf("overloads = %d", got)
	}
	e.closeLanes()
	f = &fakeRequest{}
	e.admit(l, f)
	if f.reply.Code != bus.CodeShuttingDown {
		t.Errorf("after close: %+v", f.reply)
	}
}

func TestLimitsCapped(t *testing.T) {
	e, err := New(Options{Conn: &nats.Conn{},
		DefaultLimits: vm.Limits{MaxSteps: 1000, Timeout: time.Second},
		MaxLimits:     vm.Limits{MaxSteps: 5000, Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	d := vm.DefaultLimits()
	if got := e.limits(&bus.Limits{}); got != (vm.Limits{MaxSteps: 1000, Timeout: time.Second,
		MaxMemoryBytes: d.MaxMemoryBytes, MaxCallDepth: d.MaxCallDepth, MaxOutputBytes: d.MaxOutputBytes}) {
		t.Errorf("defaults: %+v", got)
	}
	got := e.limits(&bus.Limits{MaxSteps: 1 << 40, Timeout: time.Hour, MaxMemoryBytes: 1024, MaxCallDepth: 1 << 40})
	if got.MaxSteps != 5000 || got.Timeout != 2*time.Second || got.MaxMemoryBytes != 1024 || got.MaxCallDepth != d.MaxCallDepth {
		t.Errorf("capped: %+v", got)
	}
}

// TestRequestErrors covers the replies that do not need the VM.
func TestRequestErrors(t *testing.T) {
	s := natstest.Run(t)
	nc := connect(t, s)
	start(t, Options{Conn: nc, Commands: NewMemoryCommands()})
	subj, _ := bus.ExecSubject(bus.LaneInteractive)

	msg, err := nc.Request(subj, []byte("not msgpack"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep bus.Reply
	if err := rep.UnmarshalMsgpack(msg.Data); err != nil || rep.Code != bus.CodeBadRequest || rep.ExecutorID == "" {
		t.Errorf("garbage: %v %+v", err, rep)
	}
	msg, _ = nc.Request(subj, []byte{0x91, 0x07}, 2*time.Second)
	if err := rep.UnmarshalMsgpack(msg.Data); err != nil || rep.Code != bus.CodeUnsupportedVersion {
		t.Errorf("version 7: %v %+v", err, rep)
	}
	for name, tc := range map[string]struct {
		req  bus.Request
		code bus.Code
	}{
		"empty":           {bus.Request{}, bus.CodeBadRequest},
		"both":            {bus.Request{Script: "x", Command: "y"}, bus.CodeBadRequest},
		"missing command": {bus.Request{Command: "nope"}, bus.CodeNotFound},
		"expired":         {bus.Request{Script: "x", DeadlineUnixNano: time.Now().Add(-time.Second).UnixNano()}, bus.CodeTimeout},
	} {
		rep := run(t, nc, &tc.req)
		if rep.Success || rep.Code != tc.code || rep.Status != tc.code.Status() {
			t.Errorf("%s: %+v", name, rep)
		}
	}
}

func TestRun(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	nc := connect(t, s)
	e := start(t, Options{Conn: nc})
	rep := run(t, nc, &bus.Request{ID: "r1", Script: "addParam(a, p)\naddVar(x, 5)\naddResult(x)\naddResult(p)\n",
		Query: []bus.Param{{Name: "a", Value: "7"}}})
	if !rep.Success || string(rep.Result) != `{"x":5,"p":7}` || rep.ExecutorID != e.ID() || rep.Stats.Steps == 0 {
		t.Fatalf("reply %+v result %s", rep, rep.Result)
	}
	// Same script again: a cache hit.
	run(t, nc, &bus.Request{Script: "addParam(a, p)\naddVar(x, 5)\naddResult(x)\naddResult(p)\n", Lane: bus.LaneBatch})
	if st := e.Statz(); st.CacheHits != 1 || st.CacheMisses != 1 || st.Runs != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestErrorCodes(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	nc := connect(t, s)
	start(t, Options{Conn: nc, MaxLimits: vm.Limits{MaxSteps: 1 << 50}})
	loop := "addVar(n, 0)\nstartLoop(i, 1, 1000000000000)\n  n = n + 1\nendLoop()\naddResult(n)\n"
	for name, tc := range map[string]struct {
		req    bus.Request
		code   bus.Code
		status int
		line   int
	}{
		"syntax":          {bus.Request{Script: "addVar(a, 1\naddResult(a)\n"}, bus.CodeSyntax, 400, 1},
		"unknown command": {bus.Request{Script: "addVar(a, 1)\ndoesNotExist(a)\n"}, bus.CodeUnknownCommand, 400, 2},
		"runtime":         {bus.Request{Script: "addVar(a, 1)\nb = a / 0\n"}, bus.CodeRuntime, 400, 2},
		"step limit":      {bus.Request{Script: loop, Limits: bus.Limits{MaxSteps: 10_000}}, bus.CodeStepLimit, 504, 0},
		"time limit":      {bus.Request{Script: loop, Limits: bus.Limits{Timeout: 50 * time.Millisecond, MaxSteps: 1 << 50}}, bus.CodeTimeout, 504, 0},
	} {
		rep := run(t, nc, &tc.req)
		if rep.Success || rep.Code != tc.code || rep.Status != tc.status || (tc.line != 0 && rep.Line != tc.line) {
			t.Errorf("%s: %+v", name, rep)
		}
	}
}

func TestCompileAndRunNamed(t *testing.T) {
	needVM(t)
	s := natstest.Run(t) // with JetStream: the KV bucket
	nc := connect(t, s)
	e1 := start(t, Options{Conn: nc})
	if e1.kvStore == nil {
		t.Fatal("executor did not open the KV bucket")
	}
	rep, err := call(t, nc, bus.CompileSubject, &bus.Request{Name: "hello", Script: "addVar(msg, \"hi\")\naddResult(msg)\n"}, 5*time.Second)
	if err != nil || !rep.Success {
		t.Fatalf("compile: %v %+v", err, rep)
	}
	// A second executor on another connection sees it through the bucket.
	nc2 := connect(t, s)
	e2 := start(t, Options{Conn: nc2})
	_ = e1.Shutdown(context.Background())
	rep = run(t, nc, &bus.Request{Command: "hello"})
	if !rep.Success || string(rep.Result) != `{"msg":"hi"}` || rep.ExecutorID != e2.ID() {
		t.Fatalf("run named: %+v", rep)
	}
	rep, _ = call(t, nc, bus.CompileSubject, &bus.Request{Name: "bad", Script: "addVar(a, 1\n"}, 5*time.Second)
	if rep.Success || rep.Code != bus.CodeSyntax {
		t.Errorf("compile bad: %+v", rep)
	}
	rep, _ = call(t, nc, bus.CompileSubject, &bus.Request{Name: "no/slash", Script: "addVar(a, 1)\n"}, 5*time.Second)
	if rep.Code != bus.CodeBadRequest {
		t.Errorf("bad name: %+v", rep)
	}
}

// TestIsolation hammers pooled machines with concurrent requests that each
// carry their own variables and parameters; no reply may show another's.
func TestIsolation(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	nc := connect(t, s)
	start(t, Options{Conn: nc, Workers: 4, QueueSize: 1024})
	script := "addParam(who, w)\naddVar(mine, w)\naddLog(w)\naddResult(mine)\naddResult(seed)\n"
	const n = 400
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := fmt.Sprintf("client-%d", i)
			req := bus.Request{Script: script, Query: []bus.Param{{Name: "who", Value: who}},
				Variables: json.RawMessage(fmt.Sprintf(`{"seed":%d}`, i))}
			if i%3 == 0 { // some runs leave extra globals behind
				req.Script = "addVar(leak, 1)\n" + script
			}
			rep := run(t, nc, &req)
			want := fmt.Sprintf(`{"mine":%q,"seed":%d}`, who, i)
			if !rep.Success || string(rep.Result) != want || len(rep.Logs) != 1 || rep.Logs[0] != who ||
				(i%3 != 0 && strings.Contains(string(rep.Variables), "leak")) {
				bad.Add(1)
				t.Errorf("request %d: result %s logs %v vars %s (%s %s)", i, rep.Result, rep.Logs, rep.Variables, rep.Code, rep.Error)
			}
		}()
	}
	wg.Wait()
}

// TestOverloadFlood floods a small executor: the excess is refused at once
// with AVAP_OVERLOADED while every admitted request completes.
//
// "At once" is checked without a clock: the admitted runs block in a host
// call until the test releases them, and every refusal must arrive while
// they are still blocked. A refusal that waited behind an admitted run would
// never arrive, and the test would fail at its (generous) deadline.
func TestOverloadFlood(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	nc := connect(t, s)
	started := make(chan struct{}, 64)
	release := make(chan struct{})
	host := hostFunc(func(ctx context.Context, _ string, _ []vm.Value) (vm.Value, error) {
		started <- struct{}{}
		select {
		case <-release:
			return vm.String("done"), nil
		case <-ctx.Done():
			return vm.None, ctx.Err()
		}
	})
	const workers, queue = 1, 2
	start(t, Options{Conn: nc, Workers: workers, QueueSize: queue, Host: host, MaxLimits: vm.Limits{Timeout: time.Minute}})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	var wg sync.WaitGroup
	// On failure, too: release the runs, then wait for every caller (they
	// report through t).
	defer wg.Wait()
	defer unblock()
	subj, _ := bus.ExecSubject(bus.LaneInteractive)
	req := bus.Request{Script: `RequestGet("http://x", "", "", r)` + "\naddResult(r)\n", Limits: bus.Limits{Timeout: 30 * time.Second}}

	var ok, over atomic.Int64
	send := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := req
			rep, err := call(t, nc, subj, &r, 30*time.Second)
			switch {
			case err != nil:
				t.Errorf("call: %v", err)
			case rep.Success && string(rep.Result) == `{"r":"done"}`: // admitted, ran after release
				ok.Add(1)
			case rep.Code == bus.CodeOverloaded:
				over.Add(1)
			default:
				t.Errorf("unexpected reply %+v", rep)
			}
		}()
	}
	// Occupy the worker first, so that exactly `queue` more are admitted
	// whatever the scheduling of the worker and the subscription.
	send()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first run did not reach its host call")
	}
	const n = 30
	for range n - 1 {
		send()
	}
	const refused = n - workers - queue
	for deadline := time.Now().Add(10 * time.Second); over.Load() < refused; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d refusals arrived while the admitted runs were blocked", over.Load(), refused)
		}
	}
	if ok.Load() != 0 || len(started) != 0 {
		t.Fatalf("while the worker was blocked: %d runs finished, %d more started", ok.Load(), len(started))
	}
	unblock()
	wg.Wait()
	if ok.Load() != workers+queue || over.Load() != refused {
		t.Errorf("admitted %d, overloaded %d; want %d, %d", ok.Load(), over.Load(), workers+queue, refused)
	}
}

// TestDeadlinePropagation: a caller deadline shorter than the script's time
// limit stops the run.
func TestDeadlinePropagation(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	nc := connect(t, s)
	e := start(t, Options{Conn: nc, Workers: 1, MaxLimits: vm.Limits{MaxSteps: 1 << 50}})
	slow := "addVar(n, 0)\nstartLoop(i, 1, 1000000000000)\n  n = n + 1\nendLoop()\n"
	subj, _ := bus.ExecSubject(bus.LaneInteractive)
	t0 := time.Now()
	// Script limit 5 s; the caller gives up after 150 ms, and says so in the envelope.
	rep, err := call(t, nc, subj, &bus.Request{Script: slow, Limits: bus.Limits{Timeout: 5 * time.Second, MaxSteps: 1 << 50}}, 150*time.Millisecond)
	// The executor stops the run just before the caller's deadline (keeping
	// ReplyMargin for the reply); if the reply is late the caller times out.
	if !errors.Is(err, bus.NewError(bus.CodeTimeout, "")) && rep.Code != bus.CodeTimeout {
		t.Fatalf("err = %v, reply %+v", err, rep)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("answer after %v", d)
	}
	// The run stopped: the single worker is free again well before 5 s.
	rep = run(t, nc, &bus.Request{Script: "addVar(x, 1)\naddResult(x)\n"})
	if !rep.Success {
		t.Fatalf("follow-up: %+v", rep)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("worker busy for %v after the caller's deadline", d)
	}
	// serve decrements the in-flight count after it published the reply.
	for deadline := time.Now().Add(time.Second); e.Statz().InFlight != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("in flight: %d a second after the last reply", e.Statz().InFlight)
		}
	}
}

// TestTwoExecutorsShareAndDrain: two executors share the load; one shuts
// down in the middle of it and no request is lost.
func TestTwoExecutorsShareAndDrain(t *testing.T) {
	needVM(t)
	s := natstest.Run(t)
	nc := connect(t, s)
	e1 := start(t, Options{Conn: connect(t, s), Workers: 2})
	e2 := start(t, Options{Conn: connect(t, s), Workers: 2})
	script := "addVar(n, 0)\nstartLoop(i, 1, 2000)\n  n = n + 1\nendLoop()\naddResult(n)\n"
	const clients, each = 8, 60
	var wg sync.WaitGroup
	var done, failed atomic.Int64
	seen := sync.Map{}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				rep := run(t, nc, &bus.Request{Script: script})
				if rep.Code == bus.CodeShuttingDown { // never ran: the edge retries these
					rep = run(t, nc, &bus.Request{Script: script})
				}
				if !rep.Success || string(rep.Result) != `{"n":2000}` {
					failed.Add(1)
					t.Errorf("reply %+v", rep)
				}
				seen.Store(rep.ExecutorID, true)
				if done.Add(1) == clients*each/3 {
					go func() { _ = e1.Shutdown(context.Background()) }()
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	if n != 2 || failed.Load() != 0 {
		t.Errorf("executors seen %d, failed %d", n, failed.Load())
	}
	if e2.Statz().Runs == 0 {
		t.Error("second executor ran nothing")
	}
}
