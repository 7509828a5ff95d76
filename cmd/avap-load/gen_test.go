package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDueBy(t *testing.T) {
	for _, tc := range []struct {
		el   time.Duration
		rate int
		want uint64
	}{
		{0, 1000, 0}, {time.Second, 1000, 1000}, {1500 * time.Microsecond, 1000, 1}, {time.Second, 0, 0}, {-time.Second, 5, 0},
	} {
		if got := dueBy(tc.el, tc.rate); got != tc.want {
			t.Errorf("dueBy(%v, %d) = %d, want %d", tc.el, tc.rate, got, tc.want)
		}
	}
}

func testServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("shed") != "" {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// The generators are exercised briefly against an in-process server: the
// assertions are about accounting, not speed.
func TestGenerators(t *testing.T) {
	addr := testServer(t)
	for _, g := range []generator{fastGen{}, vegetaGen{}} {
		t.Run(g.Name(), func(t *testing.T) {
			ctx := context.Background()
			lr, err := g.Closed(ctx, addr, request{Method: "POST", Path: "/x", Body: []byte(`{}`)}, 2, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if lr.Requests == 0 || lr.Status[200] != lr.Requests || lr.Lat2xx.Count() != lr.Requests || lr.Errors != 0 {
				t.Errorf("closed: %d requests, status %v, errors %d %v", lr.Requests, lr.Status, lr.Errors, lr.ErrorMsg)
			}
			lr, err = g.Open(ctx, addr, request{Method: "GET", Path: "/x?shed=1"}, 200, 4, 250*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if lr.Offered < 40 || lr.Offered > 60 || lr.Status[503] == 0 || lr.Lat503.Count() != lr.Status[503] || lr.non2xx() != lr.Status[503] {
				t.Errorf("open: offered %d, status %v", lr.Offered, lr.Status)
			}
		})
	}
}

func TestGeneratorCountsTransportErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	lr, err := fastGen{}.Closed(context.Background(), addr, request{Method: "GET", Path: "/"}, 1, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Errors == 0 || lr.Errors != lr.Requests || len(lr.ErrorMsg) == 0 || lr.Lat.Count() != 0 {
		t.Errorf("errors %d of %d, msgs %v", lr.Errors, lr.Requests, lr.ErrorMsg)
	}
}
