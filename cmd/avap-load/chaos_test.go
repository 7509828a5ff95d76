//go:build chaos

package main

// The chaos/resilience suite starts a real mesh on loopback — 3 `avap nats`
// nodes in a cluster (JetStream R3), 2 `avap edge`, 3 `avap executor`, each
// its own process — drives continuous load through a small load balancer
// over the two edges, and kills and restarts parts of it:
//
//	go test -tags chaos -run Chaos -v -timeout 10m ./cmd/avap-load    (or: task chaos)
//
// It reports per phase: requests, failed (final non-2xx or transport error
// after the balancer's retry), lost (no answer at all), duplicated answers,
// requests the balancer re-sent after they may have reached an executor
// (possible duplicate runs), and recovery times. $AVAP_LOAD_BIN tests a
// given binary instead of building ./cmd/avap.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"
)

// chaosNode is one process of the mesh, restartable.
type chaosNode struct {
	name string // nats1, edge2, exec3
	role string // nats, edge, executor
	http string // its HTTP address (API for edges, probes for the others)
	env  []string
	pre  []string // command prefix, e.g. taskset -c 0
	p    *proc
}

type chaosMesh struct {
	t       testing.TB
	bin     string
	dir     string
	natsURL string // comma-separated client URLs
	nodes   map[string]*chaosNode
	order   []string
}

func chaosBin(t testing.TB) string {
	if b := os.Getenv("AVAP_LOAD_BIN"); b != "" {
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := buildAvap(ctx, t.TempDir(), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func freePort(t testing.TB) string {
	a, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newChaosMesh prepares (does not start) nNATS nats nodes, edges and
// executors. With nNATS >= 2 the nats nodes form a cluster.
func newChaosMesh(t testing.TB, bin string, nNATS, nEdges, nExec int) *chaosMesh {
	m := &chaosMesh{t: t, bin: bin, dir: t.TempDir(), nodes: map[string]*chaosNode{}}
	var clients, routes, clusters []string
	for range nNATS {
		clients = append(clients, freePort(t))
		clusters = append(clusters, freePort(t))
	}
	for _, c := range clusters {
		routes = append(routes, "nats-route://"+c)
	}
	var urls []string
	for _, c := range clients {
		urls = append(urls, "nats://"+c)
	}
	m.natsURL = strings.Join(urls, ",")
	common := []string{"AVAP_LOG_LEVEL=warn", "AVAP_LOG_FORMAT=text"}
	for i := range nNATS {
		env := append([]string{"AVAP_NATS_LISTEN=" + clients[i]}, common...)
		if nNATS > 1 {
			env = append(env, "AVAP_NATS_CLUSTER_NAME=chaos", "AVAP_NATS_CLUSTER_LISTEN="+clusters[i],
				"AVAP_NATS_CLUSTER_ROUTES="+strings.Join(routes, ","))
		}
		m.add("nats"+strconv.Itoa(i+1), "nats", env)
	}
	for i := range nExec {
		m.add("exec"+strconv.Itoa(i+1), "executor", append([]string{"AVAP_NATS_URL=" + m.natsURL,
			"AVAP_EXECUTOR_GRACE=5s", "AVAP_NODE_HEARTBEAT=500ms"}, common...))
	}
	for i := range nEdges {
		m.add("edge"+strconv.Itoa(i+1), "edge", append([]string{"AVAP_NATS_URL=" + m.natsURL,
			"AVAP_HTTP_SHUTDOWN_DELAY=500ms", "AVAP_HTTP_GRACE=5s", "AVAP_HTTP_ACCESS_LOG=false",
			"AVAP_NODE_HEARTBEAT=500ms"}, common...))
	}
	return m
}

func (m *chaosMesh) add(name, role string, env []string) {
	n := &chaosNode{name: name, role: role, http: freePort(m.t)}
	n.env = append(env, "AVAP_NODE_ID="+name, "AVAP_HTTP_ADDR="+n.http,
		"AVAP_DATA_DIR="+filepath.Join(m.dir, name))
	m.nodes[name] = n
	m.order = append(m.order, name)
}

func (m *chaosMesh) byRole(role string) []*chaosNode {
	var out []*chaosNode
	for _, name := range m.order {
		if n := m.nodes[name]; n.role == role {
			out = append(out, n)
		}
	}
	return out
}

// start starts n and waits until its /readyz answers 200.
func (m *chaosMesh) start(n *chaosNode) {
	m.t.Helper()
	if err := os.MkdirAll(filepath.Join(m.dir, n.name), 0o755); err != nil {
		m.t.Fatal(err)
	}
	bin, args := m.bin, []string{n.role}
	if len(n.pre) > 0 {
		bin, args = n.pre[0], append(append(append([]string(nil), n.pre[1:]...), m.bin), n.role)
	}
	p, err := startProc(m.dir, n.name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), bin, args, childEnv(n.env...))
	if err != nil {
		m.t.Fatal(err)
	}
	n.p = p
	c := &cluster{Procs: []*proc{p}}
	if err := waitReady(context.Background(), n.http, c, 30*time.Second); err != nil {
		m.t.Fatalf("%s: %v\n%s", n.name, err, c.logTail(20))
	}
}

func (m *chaosMesh) startAll() {
	// The nats nodes start together (each waits for its routes), then the rest.
	var wg sync.WaitGroup
	for _, n := range m.byRole("nats") {
		wg.Go(func() { m.start(n) })
	}
	wg.Wait()
	for _, role := range []string{"executor", "edge"} {
		for _, n := range m.byRole(role) {
			wg.Go(func() { m.start(n) })
		}
		wg.Wait()
	}
}

func (m *chaosMesh) kill9(n *chaosNode) {
	_ = n.p.cmd.Process.Signal(syscall.SIGKILL)
	<-n.p.done
}

// stop sends SIGTERM and waits for the exit.
func (m *chaosMesh) stop(n *chaosNode) time.Duration {
	t0 := time.Now()
	_ = n.p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.p.done:
	case <-time.After(20 * time.Second):
		m.kill9(n)
		m.t.Errorf("%s ignored SIGTERM for 20s", n.name)
	}
	return time.Since(t0)
}

func (m *chaosMesh) stopAll() {
	for i := len(m.order) - 1; i >= 0; i-- {
		if n := m.nodes[m.order[i]]; n.p != nil && !n.p.exited() {
			m.stop(n)
		}
	}
}

func (m *chaosMesh) logTail() string {
	c := &cluster{}
	for _, name := range m.order {
		if n := m.nodes[name]; n.p != nil {
			c.Procs = append(c.Procs, n.p)
		}
	}
	return c.logTail(8)
}

// liveNodes asks an edge's /api/v1/info for the members it hears.
func liveNodes(addr string) (map[string]int, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/info")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var info struct {
		Mesh struct {
			Nodes []struct {
				ID   string `json:"id"`
				Role string `json:"role"`
			} `json:"nodes"`
		} `json:"mesh"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, n := range info.Mesh.Nodes {
		out[n.Role]++
	}
	return out, nil
}

// --- load through a balancer over the edges ---

// chaosScript echoes its request's sequence number; side-effect free, so
// the edges may retry it on another executor.
const chaosScript = "addParam(seq, s)\naddResult(s)\n"

type event struct {
	at  time.Time
	ok  bool
	msg string
}

// balancer spreads requests over the ready edges (polling /readyz like a
// load balancer's health check) and re-sends a request to the other edge
// when the connection fails (refused, reset, closed), as a load balancer
// with connection retries does.
type balancer struct {
	edges []*chaosNode
	ready []atomic.Bool
	next  atomic.Uint64
	hcs   []*fasthttp.HostClient
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newBalancer(edges []*chaosNode, conns int) *balancer {
	b := &balancer{edges: edges, ready: make([]atomic.Bool, len(edges)), stop: make(chan struct{})}
	for i, e := range edges {
		b.hcs = append(b.hcs, newHostClient(e.http, conns))
		b.ready[i].Store(true)
	}
	b.wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		c := &http.Client{Timeout: 300 * time.Millisecond}
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
			}
			for i, e := range b.edges {
				resp, err := c.Get("http://" + e.http + "/readyz")
				ok := err == nil && resp.StatusCode == 200
				if resp != nil {
					resp.Body.Close()
				}
				b.ready[i].Store(ok)
			}
		}
	})
	return b
}

func (b *balancer) close() { close(b.stop); b.wg.Wait() }

// pick returns the index of the next ready edge (any edge if none is).
func (b *balancer) pick(avoid int) int {
	n := len(b.edges)
	start := int(b.next.Add(1))
	for k := range n {
		i := (start + k) % n
		if i != avoid && b.ready[i].Load() {
			return i
		}
	}
	return (start) % n
}

type loadStats struct {
	mu        sync.Mutex
	requests  int64
	ok        int64
	failed    int64
	lost      int64 // no answer at all (client timeout)
	dups      int64 // a sequence number answered twice
	wrong     int64 // an answer carrying another request's sequence number
	resentRef int64 // re-sent after connection refused (never reached an edge)
	resentMid int64 // re-sent after the connection broke mid-request (may have run)
	events    []event
	failMsgs  map[string]int
	seen      map[int64]bool
}

func (s *loadStats) failure(at time.Time, msg string) {
	s.mu.Lock()
	s.failed++
	s.events = append(s.events, event{at: at, msg: msg})
	if len(s.failMsgs) < 20 {
		s.failMsgs[msg]++
	}
	s.mu.Unlock()
}

// driveLoad runs conns closed-loop workers until stop is closed.
func driveLoad(b *balancer, conns int, seq *atomic.Int64, stop <-chan struct{}) *loadStats {
	st := &loadStats{failMsgs: map[string]int{}, seen: map[int64]bool{}}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				body := fmt.Sprintf(`{"script":%q,"params":{"seq":%d},"limits":{"timeout_ms":1000}}`, chaosScript, n)
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				req.SetBodyString(body)
				atomic.AddInt64(&st.requests, 1)
				var err error
				edge := -1
				for try := 0; try < 4; try++ {
					edge = b.pick(edge)
					req.SetRequestURI("http://" + b.edges[edge].http + "/api/v1/execute")
					err = b.hcs[edge].DoTimeout(req, resp, 8*time.Second)
					if err == nil {
						break
					}
					if errors.Is(err, fasthttp.ErrTimeout) {
						break // lost: do not re-send what may still run
					}
					var oe *net.OpError
					if errors.As(err, &oe) && oe.Op == "dial" {
						atomic.AddInt64(&st.resentRef, 1)
					} else {
						atomic.AddInt64(&st.resentMid, 1)
					}
					time.Sleep(5 * time.Millisecond)
				}
				now := time.Now()
				switch {
				case errors.Is(err, fasthttp.ErrTimeout):
					atomic.AddInt64(&st.lost, 1)
					st.failure(now, "no answer: "+err.Error())
				case err != nil:
					st.failure(now, "transport: "+err.Error())
				case resp.StatusCode() != 200:
					st.failure(now, fmt.Sprintf("HTTP %d: %.120s", resp.StatusCode(), resp.Body()))
				default:
					var env struct {
						Result struct {
							S json.Number `json:"s"`
						} `json:"result"`
					}
					_ = json.Unmarshal(resp.Body(), &env)
					got, _ := env.Result.S.Int64()
					st.mu.Lock()
					switch {
					case got != n:
						st.wrong++
					case st.seen[n]:
						st.dups++
					default:
						st.seen[n] = true
						st.ok++
						st.events = append(st.events, event{at: now, ok: true})
					}
					st.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return st
}

// phaseReport summarizes one chaos phase.
type phaseReport struct {
	Name        string
	Duration    time.Duration
	Requests    int64
	OK          int64
	Failed      int64
	Lost        int64
	Duplicated  int64
	Wrong       int64
	ResentRef   int64
	ResentMid   int64
	FailWindow  time.Duration // first to last failure
	Recovery    time.Duration // fault injected -> the step's recovery condition met
	Notes       []string
	FailSamples map[string]int
	RPS         float64
}

func (p phaseReport) String() string {
	s := fmt.Sprintf("%-34s %6.1fs  req %6d  ok %6d  failed %4d  lost %3d  dup %d  wrong %d  resent(refused) %3d  resent(mid-request) %3d  %7.0f req/s",
		p.Name, p.Duration.Seconds(), p.Requests, p.OK, p.Failed, p.Lost, p.Duplicated, p.Wrong, p.ResentRef, p.ResentMid, p.RPS)
	if p.Failed > 0 {
		s += fmt.Sprintf("  failure window %s", p.FailWindow.Round(time.Millisecond))
	}
	if p.Recovery > 0 {
		s += fmt.Sprintf("  recovery %s", p.Recovery.Round(time.Millisecond))
	}
	for _, n := range p.Notes {
		s += "\n      " + n
	}
	for msg, c := range p.FailSamples {
		s += fmt.Sprintf("\n      %dx %s", c, msg)
	}
	return s
}

// runPhase drives load while fault runs (it returns the recovery time, or
// 0) and settle more seconds after it.
func runPhase(t *testing.T, name string, b *balancer, seq *atomic.Int64, conns int, settle time.Duration,
	fault func() (time.Duration, []string)) phaseReport {
	t.Helper()
	stop := make(chan struct{})
	res := make(chan *loadStats, 1)
	t0 := time.Now()
	go func() { res <- driveLoad(b, conns, seq, stop) }()
	time.Sleep(500 * time.Millisecond)
	var rec time.Duration
	var notes []string
	if fault != nil {
		rec, notes = fault()
	}
	time.Sleep(settle)
	close(stop)
	st := <-res
	p := phaseReport{Name: name, Duration: time.Since(t0), Requests: st.requests, OK: st.ok, Failed: st.failed,
		Lost: st.lost, Duplicated: st.dups, Wrong: st.wrong, ResentRef: st.resentRef, ResentMid: st.resentMid,
		Recovery: rec, Notes: notes, FailSamples: st.failMsgs}
	p.RPS = float64(st.ok) / p.Duration.Seconds()
	var first, last time.Time
	for _, e := range st.events {
		if !e.ok {
			if first.IsZero() {
				first = e.at
			}
			last = e.at
		}
	}
	if !first.IsZero() {
		p.FailWindow = last.Sub(first)
	}
	t.Log("\n" + p.String())
	return p
}

// waitMembers polls an edge's /api/v1/info until role has want members.
func waitMembers(addr, role string, want int, within time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for time.Since(t0) < within {
		if m, err := liveNodes(addr); err == nil && m[role] == want {
			return time.Since(t0), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	m, _ := liveNodes(addr)
	return time.Since(t0), fmt.Errorf("%d %s members after %s, want %d (%v)", m[role], role, within, want, m)
}

// TestChaosMesh is the resilience acceptance run (see the file comment).
func TestChaosMesh(t *testing.T) {
	begin := time.Now()
	bin := chaosBin(t)
	m := newChaosMesh(t, bin, 3, 2, 3)
	t.Cleanup(m.stopAll)
	m.startAll()
	edges, execs, natsNodes := m.byRole("edge"), m.byRole("executor"), m.byRole("nats")
	t.Logf("mesh up in %s: 3 nats (cluster), 2 edges, 3 executors; NATS %s", time.Since(begin).Round(time.Millisecond), m.natsURL)
	if _, err := waitMembers(edges[0].http, "executor", 3, 10*time.Second); err != nil {
		t.Fatalf("discovery: %v\n%s", err, m.logTail())
	}

	// JetStream data written before the faults, R3.
	nc, err := nats.Connect(m.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "chaos_data", Replicas: 3})
	if err != nil {
		t.Fatalf("R3 bucket: %v", err)
	}
	const nKeys = 200
	for i := range nKeys {
		if _, err := kv.Put(ctx, "k"+strconv.Itoa(i), []byte(strconv.Itoa(i*i))); err != nil {
			t.Fatal(err)
		}
	}
	if si, err := js.Stream(ctx, "KV_avap_commands"); err == nil {
		t.Logf("mesh bucket avap_commands (created by the executors): replicas %d", si.CachedInfo().Config.Replicas)
		if si.CachedInfo().Config.Replicas != 3 {
			t.Errorf("avap_commands has %d replicas on a 3-node cluster, want 3", si.CachedInfo().Config.Replicas)
		}
	} else {
		t.Logf("avap_commands stream: %v", err)
	}

	const conns = 16
	b := newBalancer(edges, conns)
	defer b.close()
	var seq atomic.Int64
	var reports []phaseReport

	reports = append(reports, runPhase(t, "steady state", b, &seq, conns, 2*time.Second, nil))

	reports = append(reports, runPhase(t, "kill -9 executor, restart", b, &seq, conns, 2*time.Second,
		func() (time.Duration, []string) {
			t0 := time.Now()
			m.kill9(execs[1])
			time.Sleep(2 * time.Second)
			m.start(execs[1])
			d, err := waitMembers(edges[0].http, "executor", 3, 10*time.Second)
			notes := []string{fmt.Sprintf("exec2 down 2s; back in the members list %s after its restart", d.Round(time.Millisecond))}
			if err != nil {
				notes = append(notes, err.Error())
			}
			return time.Since(t0), notes
		}))

	var natsRec time.Duration
	reports = append(reports, runPhase(t, "kill -9 nats node, restart", b, &seq, conns, 2*time.Second,
		func() (time.Duration, []string) {
			t0 := time.Now()
			m.kill9(natsNodes[1])
			time.Sleep(3 * time.Second)
			m.start(natsNodes[1])
			natsRec = time.Since(t0)
			// Data intact and writable while and after.
			var notes []string
			missing := 0
			for i := range nKeys {
				e, err := kv.Get(ctx, "k"+strconv.Itoa(i))
				if err != nil || string(e.Value()) != strconv.Itoa(i*i) {
					missing++
				}
			}
			notes = append(notes, fmt.Sprintf("JetStream R3 bucket: %d/%d keys intact after the restart", nKeys-missing, nKeys))
			if missing > 0 {
				t.Errorf("JetStream lost %d of %d keys", missing, nKeys)
			}
			// Writable again: right after the restart the stream may be
			// electing a leader (the restarted node rejoins its Raft
			// groups), so a client retries for a bounded time.
			tw := time.Now()
			for {
				_, err := kv.Put(ctx, "after", []byte("x"))
				if err == nil {
					notes = append(notes, fmt.Sprintf("bucket writable %s after the restart", time.Since(tw).Round(time.Millisecond)))
					break
				}
				if time.Since(tw) > 15*time.Second {
					t.Errorf("write after nats restart: still failing after 15s: %v", err)
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			return natsRec, notes
		}))

	reports = append(reports, runPhase(t, "rolling restart: executors", b, &seq, conns, time.Second,
		func() (time.Duration, []string) {
			t0 := time.Now()
			var notes []string
			for _, e := range execs {
				d := m.stop(e)
				m.start(e)
				if _, err := waitMembers(edges[0].http, "executor", 3, 10*time.Second); err != nil {
					notes = append(notes, err.Error())
				}
				notes = append(notes, fmt.Sprintf("%s drained and stopped in %s, restarted", e.name, d.Round(time.Millisecond)))
			}
			return time.Since(t0), notes
		}))

	reports = append(reports, runPhase(t, "rolling restart: edges", b, &seq, conns, time.Second,
		func() (time.Duration, []string) {
			t0 := time.Now()
			var notes []string
			for _, e := range edges {
				d := m.stop(e)
				m.start(e)
				time.Sleep(200 * time.Millisecond) // the balancer's health check sees it ready
				notes = append(notes, fmt.Sprintf("%s drained (readiness 503, 500ms delay) and stopped in %s, restarted", e.name, d.Round(time.Millisecond)))
			}
			return time.Since(t0), notes
		}))

	reports = append(reports, runPhase(t, "kill -9 edge, restart", b, &seq, conns, 2*time.Second,
		func() (time.Duration, []string) {
			t0 := time.Now()
			m.kill9(edges[0])
			time.Sleep(time.Second)
			m.start(edges[0])
			return time.Since(t0), nil
		}))

	// Verdicts of the acceptance criteria.
	byName := map[string]phaseReport{}
	var summary strings.Builder
	for _, r := range reports {
		byName[r.Name] = r
		summary.WriteString(r.String() + "\n")
	}
	t.Logf("chaos summary (%s total):\n%s", time.Since(begin).Round(time.Second), summary.String())
	for _, r := range reports {
		if r.Wrong > 0 || r.Duplicated > 0 {
			t.Errorf("%s: %d wrong and %d duplicated answers", r.Name, r.Wrong, r.Duplicated)
		}
	}
	for _, name := range []string{"steady state", "kill -9 executor, restart", "rolling restart: executors", "rolling restart: edges"} {
		if r := byName[name]; r.Failed > 0 {
			t.Errorf("%s: %d failed requests, want 0", name, r.Failed)
		}
	}
	if r := byName["kill -9 nats node, restart"]; r.OK == 0 || (r.Failed > 0 && r.FailWindow > natsRec+2*time.Second) {
		t.Errorf("nats node kill: ok %d, failures over %s", r.OK, r.FailWindow)
	}
	if t.Failed() {
		t.Log(m.logTail())
	}
	if d := time.Since(begin); d > 5*time.Minute {
		t.Errorf("suite took %s, want < 5m", d)
	}
}

// TestChaosScaling measures requests/s with 1, 2 and 3 executors, each
// pinned to one CPU (taskset) with GOMAXPROCS=1, behind one edge and one
// NATS node, on a CPU-bound script. On a 2-core machine the edge, NATS and
// the load generator share the same cores, so the curve flattens; the
// numbers are reported, the only assertion is that 2 executors beat 1.
func TestChaosScaling(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset")
	}
	bin := chaosBin(t)
	m := newChaosMesh(t, bin, 1, 1, 3)
	t.Cleanup(m.stopAll)
	execs := m.byRole("executor")
	for i, e := range execs {
		e.pre = []string{"taskset", "-c", strconv.Itoa(i % max(1, numCPU()))}
		e.env = append(e.env, "GOMAXPROCS=1", "AVAP_EXECUTOR_WORKERS=1", "AVAP_EXECUTOR_QUEUE_SIZE=256")
	}
	// Each executor gets a CPU quota of its own (cgroup cpu controller,
	// where writable) so an executor — not the edge, NATS or the load
	// generator sharing this machine's cores — is the bottleneck, and the
	// curve shows what adding executors buys.
	quota := cpuQuotaAvailable()
	startExec := func(e *chaosNode) {
		m.start(e)
		if quota {
			limitCPU(t, e.p.cmd.Process.Pid, scalingQuotaPct)
		}
	}
	m.start(m.byRole("nats")[0])
	edge := m.byRole("edge")[0]
	startExec(execs[0])
	m.start(edge)
	script := "addVar(t, 0)\nstartLoop(i, 1, 3000)\n  t = t + i * 2\nendLoop()\naddResult(t)\n"
	req := request{Method: "POST", Path: "/api/v1/execute", Body: mustJSON(executeBody{Script: script, Variables: map[string]any{}})}
	ctx := context.Background()
	var rps []float64
	var lines []string
	for k := 1; k <= 3; k++ {
		if k > 1 {
			startExec(execs[k-1])
		}
		if _, err := waitMembers(edge.http, "executor", k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		_, _ = fastGen{}.Closed(ctx, edge.http, req, 32, time.Second) // warm up
		lr, err := fastGen{}.Closed(ctx, edge.http, req, 32, 4*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r := float64(lr.Status[200]) / lr.Elapsed.Seconds()
		rps = append(rps, r)
		p99 := lr.Lat.Quantile(0.99)
		limit := ""
		if quota {
			limit = fmt.Sprintf(", %d%% of a CPU each", scalingQuotaPct)
		}
		lines = append(lines, fmt.Sprintf("%d executor(s) pinned (cpus %v%s): %7.0f req/s  p99 %s  non-2xx %d  errors %d",
			k, pinned(execs[:k]), limit, r, p99.Round(time.Microsecond), lr.non2xx(), lr.Errors))
	}
	t.Logf("scaling (host: %d CPUs, script: 3000-iteration loop, 32 connections, 4s each):\n  %s\n  ratios: 2/1 = %.2f, 3/1 = %.2f",
		numCPU(), strings.Join(lines, "\n  "), rps[1]/rps[0], rps[2]/rps[0])
	if rps[1] <= rps[0] {
		t.Errorf("2 executors (%0.f req/s) not faster than 1 (%0.f req/s)", rps[1], rps[0])
	}
}

func numCPU() int { return runtime.NumCPU() }

// scalingQuotaPct is the CPU quota of each executor in TestChaosScaling.
const scalingQuotaPct = 20

// cgroupCPU is the cgroup v1 cpu controller this suite uses for quotas.
const cgroupCPU = "/sys/fs/cgroup/cpu"

// cpuQuotaAvailable reports whether this process may create cpu cgroups.
func cpuQuotaAvailable() bool {
	dir, err := os.MkdirTemp(cgroupCPU, "avap-chaos-probe-")
	if err != nil {
		return false
	}
	_ = os.Remove(dir)
	return true
}

// limitCPU moves pid into a new cpu cgroup limited to pct % of one CPU;
// the cgroup is removed at the end of the test (pid moved back first).
func limitCPU(t *testing.T, pid, pct int) {
	t.Helper()
	dir, err := os.MkdirTemp(cgroupCPU, "avap-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(cgroupCPU, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
		_ = os.Remove(dir)
	})
	period := 100000
	if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(period)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(period*pct/100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pinned(ns []*chaosNode) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.pre[2])
	}
	sort.Strings(out)
	return out
}
