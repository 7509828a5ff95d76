package executor

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

// TestJobCallbackSecretRotation: after SetCallbackSecret (config reload)
// callbacks are signed with the new key only; before it, with the old.
func TestJobCallbackSecretRotation(t *testing.T) {
	needVM(t)
	s := natstest.RunInProcess(t)
	nc, _ := nats.Connect("", nats.InProcessServer(s))
	defer nc.Close()
	jobs := openJobs(t, nc, testJobsConfig)
	oldKey, newKey := []byte("old-callback-key"), []byte("new-callback-key")
	type signed struct{ old, new bool }
	got := make(chan signed, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get(HeaderCallbackTimestamp), r.Header.Get(HeaderCallbackSignature)
		got <- signed{
			old: VerifyCallback(oldKey, ts, sig, body, time.Minute, time.Now()) == nil,
			new: VerifyCallback(newKey, ts, sig, body, time.Minute, time.Now()) == nil,
		}
	}))
	defer srv.Close()
	policy, err := NewEgressPolicy([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, Options{Conn: nc, Workers: 1})
	r := startRunner(t, e, JobOptions{Jobs: jobs, CallbackSecret: oldKey, CallbackEgress: policy, CallbackBackoffBase: 50 * time.Millisecond})
	wait := func() signed {
		t.Helper()
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no callback")
			return signed{}
		}
	}
	submit(t, jobs, bus.PriorityNormal, "addVar(x, 1)\naddResult(x)", srv.URL+"/hook")
	if s := wait(); !s.old || s.new {
		t.Fatalf("before rotation: verifies with old=%v new=%v; want old only", s.old, s.new)
	}
	r.SetCallbackSecret(newKey)
	submit(t, jobs, bus.PriorityNormal, "addVar(x, 2)\naddResult(x)", srv.URL+"/hook")
	if s := wait(); s.old || !s.new {
		t.Fatalf("after rotation: verifies with old=%v new=%v; want new only", s.old, s.new)
	}
}
