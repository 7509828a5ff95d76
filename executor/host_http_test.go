package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// fakeResolver points every name ending in ".test" at 127.0.0.1.
type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := f[host]; ok {
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	if strings.HasSuffix(host, ".test") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func newTestHost(t *testing.T, opts HostOptions) *Host {
	t.Helper()
	if opts.Egress.Resolver == nil {
		opts.Egress.Resolver = fakeResolver{}
	}
	h, err := NewHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// runScript runs src with host and returns the result object as JSON.
func runScript(t *testing.T, host vm.Host, src string, lim vm.Limits) (string, error) {
	t.Helper()
	p, err := vm.Compile("main.avap", []byte(src), vm.CompileOptions{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	res, err := vm.NewMachine().Run(t.Context(), p, &vm.Input{Host: host}, lim)
	if err != nil {
		return "", err
	}
	return string(res.Result), nil
}

func echoServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		out := map[string]any{"method": r.Method, "query": r.URL.RawQuery, "x": r.Header.Get("X-Test"),
			"ct": r.Header.Get("Content-Type"), "body": string(b)}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "plain words") })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"detail":"nope"}`)
	})
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"detail":"broken"}`)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, strings.Repeat("x", 5000)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRequestGetPost(t *testing.T) {
	srv := echoServer(t)
	h := newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"127.0.0.1"}}})
	src := fmt.Sprintf(`base = "%s"
u = base + "/echo"
q = {"a": "1", "b": ["x", "y"]}
RequestGet(u, q, "{'X-Test': 'hdr'}", g)
r2 = RequestGet(base + "/text", , , "")
p = RequestPost(u, "", {"X-Test": "p"}, {"name": "Ann", "n": 2}, "")
RequestPost(u, "{'k': 'v'}", "", "a=1&b=2", p2)
addResult(g)
addResult(r2)
addResult(p)
addResult(p2)
`, srv.URL)
	out, err := runScript(t, h, src, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		G, P, P2 map[string]string
		R2       string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.G["method"] != "GET" || res.G["query"] != "a=1&b=x&b=y" || res.G["x"] != "hdr" {
		t.Errorf("get = %v", res.G)
	}
	if res.R2 != "plain words" {
		t.Errorf("text body = %q", res.R2)
	}
	if res.P["method"] != "POST" || res.P["body"] != `{"name":"Ann","n":2}` || res.P["ct"] != "application/json" || res.P["x"] != "p" {
		t.Errorf("post = %v", res.P)
	}
	if res.P2["query"] != "k=v" || res.P2["body"] != "a=1&b=2" || res.P2["ct"] != "application/x-www-form-urlencoded" {
		t.Errorf("post form = %v", res.P2)
	}
}

func TestRequestHTTPErrors(t *testing.T) {
	srv := echoServer(t)
	h := newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"127.0.0.0/8"}}})
	// RequestGet raises on 4xx/5xx (catchable); RequestPost returns the body.
	src := fmt.Sprintf(`try()
  RequestGet("%[1]s/missing", "", "", r)
exception(e)
end()
p = RequestPost("%[1]s/boom", "", "", "", "")
ln = RequestPost("http://127.0.0.1:1/x", "", "", "", "")
addResult(e)
addResult(p)
addResult(ln)
`, srv.URL)
	out, err := runScript(t, h, src, vm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		E  string
		P  map[string]string
		Ln map[string]string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.E != `RequestGet: HTTP 404: {"detail":"nope"}` {
		t.Errorf("get error = %q", res.E)
	}
	if res.P["detail"] != "broken" {
		t.Errorf("post error body = %v", res.P)
	}
	if !strings.Contains(res.Ln["error"], "refused") {
		t.Errorf("post network failure = %v", res.Ln)
	}
	// An uncaught GET failure fails the run.
	if _, err := runScript(t, h, fmt.Sprintf("RequestGet(\"%s/boom\", \"\", \"\", r)\n", srv.URL), vm.Limits{}); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("uncaught = %v", err)
	}
}

func TestEgressPolicy(t *testing.T) {
	srv := echoServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	get := func(h *Host, url string) error {
		_, err := runScript(t, h, fmt.Sprintf("RequestGet(\"%s\", \"\", \"\", r)\n", url), vm.Limits{})
		return err
	}
	denied := func(err error) bool { return err != nil && strings.Contains(err.Error(), "egress denied") }
	url := func(host, path string) string { return fmt.Sprintf("http://%s:%d%s", host, port, path) }

	open := newTestHost(t, HostOptions{})
	for _, u := range []string{url("127.0.0.1", "/echo"), url("localhost.test", "/echo"), url("[::1]", "/echo"),
		"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::ffff:127.0.0.1]:1/"} {
		if err := get(open, u); !denied(err) {
			t.Errorf("open policy, %s: %v", u, err)
		}
	}
	star := newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"*", "*.test"}}})
	if err := get(star, url("api.test", "/echo")); !denied(err) {
		t.Errorf("wildcard to a loopback name: %v", err)
	}
	named := newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"api.test"}}})
	if err := get(named, url("api.test", "/echo")); err != nil {
		t.Errorf("exact name allowed: %v", err)
	}
	if err := get(named, url("other.test", "/echo")); !denied(err) {
		t.Errorf("name not listed: %v", err)
	}
	// Redirects are checked like the first request.
	for _, to := range []string{url("127.0.0.1", "/echo"), url("other.test", "/echo"), "http://169.254.169.254/"} {
		if err := get(named, url("api.test", "/redirect?to="+to)); !denied(err) {
			t.Errorf("redirect to %s: %v", to, err)
		}
	}
	if err := get(named, url("api.test", "/redirect?to="+url("api.test", "/echo"))); err != nil {
		t.Errorf("redirect to an allowed host: %v", err)
	}
	if _, err := NewEgressPolicy([]string{"10.0.0.0/33", "bad host", ""}); err == nil {
		t.Error("bad allow entries accepted")
	}
}

func TestRequestLimits(t *testing.T) {
	srv := echoServer(t)
	h := newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"127.0.0.1"}, MaxResponseBytes: 1000}})
	_, err := runScript(t, h, fmt.Sprintf("RequestGet(\"%s/big\", \"\", \"\", r)\n", srv.URL), vm.Limits{})
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("cap: %v", err)
	}
	start := time.Now()
	_, err = runScript(t, h, fmt.Sprintf("RequestGet(\"%s/slow\", \"\", \"\", r)\n", srv.URL), vm.Limits{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, vm.ErrTimeout) {
		t.Errorf("slow server: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow server cut after %v", d)
	}
	// The response is charged to the run's memory budget.
	_, err = runScript(t, newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"127.0.0.1"}}}),
		fmt.Sprintf("RequestGet(\"%s/big\", \"\", \"\", r)\n", srv.URL), vm.Limits{MaxMemoryBytes: 2000})
	if !errors.Is(err, vm.ErrMemoryLimit) {
		t.Errorf("memory budget: %v", err)
	}
}

func TestHostCapabilities(t *testing.T) {
	srv := echoServer(t)
	h := newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"127.0.0.1"}}})
	src := fmt.Sprintf("RequestGet(\"%s/echo\", \"\", \"\", r)\naddResult(r)\n", srv.URL)
	if _, err := runScript(t, h.WithCapabilities(bus.CapHTTP), src, vm.Limits{}); err != nil {
		t.Errorf("granted: %v", err)
	}
	_, err := runScript(t, h.WithCapabilities(bus.CapSQL), src, vm.Limits{})
	if !errors.Is(err, ErrCapability) {
		t.Errorf("not granted: %v", err)
	}
	if _, err := runScript(t, h.WithCapabilities(bus.CapNone), "x = avapConnector(\"main\")\n", vm.Limits{}); !errors.Is(err, ErrCapability) {
		t.Errorf("sql not granted: %v", err)
	}
}
