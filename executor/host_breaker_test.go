package executor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/nats/natstest"
	"github.com/avapmesh/avap/vm"
)

// flakyServer answers 500 while failing is set, else {"ok": true}; hits
// counts the requests that reached it.
func flakyServer(t *testing.T) (srv *httptest.Server, failing *atomic.Bool, hits *atomic.Int32) {
	failing, hits = new(atomic.Bool), new(atomic.Int32)
	failing.Store(true)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, failing, hits
}

func breakerStats(g *breaker.Group, name string) breaker.Stats {
	for _, s := range g.Stats() {
		if s.Name == name {
			return s
		}
	}
	return breaker.Stats{}
}

func TestRequestCircuitBreaker(t *testing.T) {
	srv, failing, hits := flakyServer(t)
	g := breaker.NewGroup(breaker.Options{})
	h := newTestHost(t, HostOptions{
		Egress:   EgressOptions{Allow: []string{"127.0.0.1"}},
		Breakers: g, Breaker: breaker.Options{Failures: 3, OpenFor: 300 * time.Millisecond},
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	name := "http:" + host
	get := func() error {
		_, err := h.Call(t.Context(), "RequestGet", []vm.Value{vm.String(srv.URL + "/x"), vm.String(""), vm.String("")})
		return err
	}
	for i := range 3 {
		if err := get(); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := breakerStats(g, name); s.State != breaker.StateOpen {
		t.Fatalf("after 3 failures: %+v", s)
	}
	// Open: RequestGet raises, RequestPost returns {"error": ...}, and the
	// server sees nothing.
	before := hits.Load()
	want := "circuit open for host " + host
	if err := get(); err == nil || err.Error() != want {
		t.Fatalf("open get = %v, want %q", err, want)
	}
	v, err := h.Call(t.Context(), "RequestPost", []vm.Value{vm.String(srv.URL + "/x"), vm.String(""), vm.String(""), vm.String("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := v.Get("error"); e.Kind() != vm.KindString || e.AsString() != want {
		t.Fatalf("open post = %v", v)
	}
	// Catchable in a script.
	out, err := runScript(t, h, fmt.Sprintf("try()\n  RequestGet(\"%s/x\", \"\", \"\", r)\nexception(e)\nend()\naddResult(e)\n", srv.URL), vm.Limits{})
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("script = %s, %v", out, err)
	}
	if hits.Load() != before {
		t.Fatalf("an open breaker let %d requests through", hits.Load()-before)
	}
	if s := breakerStats(g, name); s.Rejected < 3 || s.Opened != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Half-open after OpenFor: a successful probe closes it.
	failing.Store(false)
	time.Sleep(350 * time.Millisecond)
	if s := breakerStats(g, name); s.State != breaker.StateHalfOpen {
		t.Fatalf("after open period: %+v", s)
	}
	if err := get(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s := breakerStats(g, name); s.State != breaker.StateClosed {
		t.Fatalf("after probe: %+v", s)
	}
	// Egress refusals do not count against a host.
	for range 5 {
		_, err := h.Call(t.Context(), "RequestGet", []vm.Value{vm.String("http://denied.test:1/"), vm.String(""), vm.String("")})
		if err == nil || !strings.Contains(err.Error(), "egress denied") {
			t.Fatalf("denied = %v", err)
		}
	}
	if s := breakerStats(g, "http:denied.test:1"); s.State != breaker.StateClosed {
		t.Fatalf("denied host breaker %+v", s)
	}
}

func TestJobCallbackCircuitBreaker(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, _ := nats.Connect("", nats.InProcessServer(s))
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	srv, failing, hits := flakyServer(t)
	policy, err := NewEgressPolicy([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	g := breaker.NewGroup(breaker.Options{})
	e := start(t, Options{Conn: nc, Workers: 1})
	startRunner(t, e, JobOptions{
		Jobs: jobs, CallbackSecret: []byte("k"), CallbackEgress: policy,
		CallbackBackoffBase: 10 * time.Millisecond, CallbackBackoffMax: 50 * time.Millisecond, CallbackMaxAttempts: 10,
		Breakers: g, CallbackBreaker: breaker.Options{Failures: 2, OpenFor: time.Second},
	})
	id := submit(t, jobs, bus.PriorityNormal, "addResult(1)", srv.URL+"/hook")
	name := "callback:" + strings.TrimPrefix(srv.URL, "http://")
	deadline := time.Now().Add(10 * time.Second)
	for breakerStats(g, name).State != breaker.StateOpen {
		if time.Now().After(deadline) {
			t.Fatalf("breaker never opened: %+v", breakerStats(g, name))
		}
		time.Sleep(5 * time.Millisecond)
	}
	failing.Store(false)
	deadline = time.Now().Add(10 * time.Second)
	for {
		rec, _, _ := jobs.Get(context.Background(), id)
		if rec != nil && rec.Callback != nil && rec.Callback.State == "delivered" {
			// Two failed deliveries opened the breaker; the refusals while
			// open were not attempts; the half-open probe delivered it.
			if rec.Callback.Attempts != 3 || hits.Load() != 3 {
				t.Fatalf("attempts %d, server hits %d", rec.Callback.Attempts, hits.Load())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback %+v", rec.Callback)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := breakerStats(g, name); st.State != breaker.StateClosed || st.Opened != 1 || st.Rejected < 1 {
		t.Fatalf("breaker %+v", st)
	}
}

// TestSQLConnectorCircuitBreaker: a connector whose database cannot be
// reached opens its breaker ("sql:<name>") after the configured failures;
// then calls are refused with "circuit open" instead of dialing again.
func TestSQLConnectorCircuitBreaker(t *testing.T) {
	g := breaker.NewGroup(breaker.Options{})
	h := newTestHost(t, HostOptions{
		Connectors:       map[string]ConnectorOptions{"down": {DSN: "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"}},
		DefaultConnector: "down",
		Breakers:         g, Breaker: breaker.Options{Failures: 2, OpenFor: time.Minute},
	})
	check := func() error {
		_, err := h.Call(t.Context(), "ormCheckTable", []vm.Value{vm.String("users"), vm.String("t")})
		return err
	}
	for i := range 2 {
		if err := check(); err == nil || errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("call %d: %v, want a connection error", i, err)
		}
	}
	if s := breakerStats(g, "sql:down"); s.State != breaker.StateOpen {
		t.Fatalf("after 2 failures: %+v", s)
	}
	err := check()
	if !errors.Is(err, breaker.ErrOpen) || !strings.Contains(err.Error(), `connector "down": circuit open`) {
		t.Fatalf("open: %v", err)
	}
	if s := breakerStats(g, "sql:down"); s.Rejected == 0 {
		t.Fatalf("the open breaker did not refuse the call: %+v", s)
	}
}
