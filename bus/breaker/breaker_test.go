package breaker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var errDown = errors.New("down")

func waitState(t *testing.T, b *Breaker, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", b.State(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTransitions(t *testing.T) {
	// The breaker must still be open when the test checks it (the state,
	// a rejected call) right after it opened: OpenFor is a second so that a
	// slow scheduler cannot let it turn half-open in between. waitState
	// waits for half-open without an upper bound that matters (10 s).
	b := New("pg", Options{Failures: 3, OpenFor: time.Second, Probes: 1, Critical: true})
	if b.State() != StateClosed {
		t.Fatal(b.State())
	}
	// Two failures, a success: consecutive count resets, still closed.
	for _, err := range []error{errDown, errDown, nil, errDown, errDown} {
		_ = b.Do(func() error { return err })
	}
	if b.State() != StateClosed {
		t.Fatalf("after 2 consecutive failures: %s", b.State())
	}
	_ = b.Do(func() error { return errDown }) // third consecutive: open
	if b.State() != StateOpen {
		t.Fatalf("after 3 consecutive failures: %s", b.State())
	}
	ran := false
	err := b.Do(func() error { ran = true; return nil })
	if !errors.Is(err, ErrOpen) || ran || !strings.Contains(err.Error(), "pg") {
		t.Fatalf("open breaker: err %v, ran %v", err, ran)
	}
	// After OpenFor: half-open; a failing probe opens it again.
	waitState(t, b, StateHalfOpen)
	_ = b.Do(func() error { return errDown })
	if b.State() != StateOpen {
		t.Fatalf("failed probe: %s", b.State())
	}
	// A succeeding probe closes it.
	waitState(t, b, StateHalfOpen)
	// Only Probes calls pass while half-open.
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("second half-open call: %v", err)
	}
	done(nil)
	if b.State() != StateClosed {
		t.Fatalf("good probe: %s", b.State())
	}
	st := b.Stats()
	if st.Opened != 2 || st.Rejected != 2 || st.Transitions != 5 || st.LastError != "down" || !st.Critical {
		t.Fatalf("stats %+v", st)
	}
}

func TestRatioAndExclusions(t *testing.T) {
	notFound := errors.New("not found")
	b := New("reg", Options{Failures: 100, Ratio: 0.5, MinRequests: 4, OpenFor: time.Minute,
		IsFailure: func(err error) bool { return !errors.Is(err, notFound) && defaultIsFailure(err) }})
	_ = b.Do(func() error { return notFound }) // counted as success
	_ = b.Do(func() error { return context.Canceled })
	_ = b.Do(func() error { return nil })
	if b.State() != StateClosed {
		t.Fatal(b.State())
	}
	_ = b.Do(func() error { return errDown }) // 1 of 4 failed
	if b.State() != StateClosed {
		t.Fatal(b.State())
	}
	_ = b.Do(func() error { return errDown })
	_ = b.Do(func() error { return errDown }) // 3 of 6 = 0.5
	if b.State() != StateOpen {
		t.Fatalf("ratio: %s %+v", b.State(), b.Stats())
	}
	v, err := Call(b, func() (int, error) { return 1, nil })
	if v != 0 || !IsOpen(err) {
		t.Fatal(v, err)
	}
}

func TestNilBreakerAndGroup(t *testing.T) {
	var b *Breaker
	if err := b.Do(func() error { return nil }); err != nil || b.State() != StateClosed {
		t.Fatal(err)
	}
	var g *Group
	if g.Get("x") != nil || g.Stats() != nil || g.Check(context.Background()) != nil {
		t.Fatal("nil group")
	}
}

func TestGroupHealth(t *testing.T) {
	g := NewGroup(Options{Failures: 1, OpenFor: time.Minute})
	soft := g.Get("http:example.com")
	hard := g.GetWith("postgres", Options{Failures: 1, OpenFor: time.Minute, Critical: true})
	if g.Get("postgres") != hard {
		t.Fatal("Get does not return the existing breaker")
	}
	_ = soft.Do(func() error { return errDown })
	if err := g.Check(context.Background()); err != nil {
		t.Fatalf("open non-critical breaker fails health: %v", err)
	}
	_ = hard.Do(func() error { return errDown })
	if err := g.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Fatalf("critical open: %v", err)
	}
	sum := g.Summary()
	if sum["postgres"] != StateOpen || sum["http:example.com"] != StateOpen || len(g.Stats()) != 2 {
		t.Fatal(sum)
	}
	if StateValue(StateOpen) != 2 || StateValue(StateHalfOpen) != 1 || StateValue(StateClosed) != 0 {
		t.Fatal("StateValue")
	}
}

func TestTransportPerHost(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }))
	defer bad.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }))
	defer good.Close()
	g := NewGroup(Options{Failures: 2, OpenFor: time.Minute})
	c := &http.Client{Transport: &Transport{Group: g, Prefix: "http:"}}
	get := func(u string) (int, error) {
		resp, err := c.Get(u)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for range 2 {
		if code, err := get(bad.URL); code != 502 || err != nil {
			t.Fatal(code, err)
		}
	}
	if _, err := get(bad.URL); !IsOpen(err) {
		t.Fatalf("third call to the failing host: %v", err)
	}
	for range 3 { // 4xx is not the host's failure; other hosts unaffected
		if code, err := get(good.URL); code != 404 || err != nil {
			t.Fatal(code, err)
		}
	}
	sum := g.Summary()
	if sum["http:"+strings.TrimPrefix(bad.URL, "http://")] != StateOpen || sum["http:"+strings.TrimPrefix(good.URL, "http://")] != StateClosed {
		t.Fatal(sum)
	}
}
