package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

// startListening starts s on a real listener and returns its base URL.
func startListening(t *testing.T, s *edge.Server) string {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return "http://" + s.Addr().String()
}

type hostileCase struct {
	name    string
	path    string
	ctype   string
	body    string
	header  map[string]string
	status  int
	errPart string
}

func TestHostileRequests(t *testing.T) {
	nc := meshConn(t)
	startFake(t, nc, bus.LaneInteractive, func(int64, *bus.Request) *bus.Reply { return ok(`{"a":1}`) })
	startFake(t, nc, bus.LaneBatch, func(int64, *bus.Request) *bus.Reply { return ok(`{"a":1}`) })
	s := newServer(t, edge.Options{
		Conn:        nc,
		BodyLimit:   64 << 10,
		ReadTimeout: 700 * time.Millisecond,
		Protect: edge.ProtectOptions{
			TrustedProxies: []string{"127.0.0.1/32", "::1"},
			MaxHeaderBytes: 8 << 10,
			Validation:     edge.ValidationOptions{MaxScriptBytes: 4 << 10, MaxJSONDepth: 16, MaxQueryParams: 8, MaxParamBytes: 256},
			RateLimit:      edge.RateLimitOptions{PerIP: edge.RateLimit{RPS: 20, Burst: 10}},
		},
	})
	base := startListening(t, s)
	client := &http.Client{Timeout: 5 * time.Second}

	// Well-behaved traffic from another client address runs throughout.
	stop := make(chan struct{})
	var good, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(60 * time.Millisecond): // 16 rps, under the per-IP limit
			}
			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/execute", strings.NewReader(`{"script":"addResult(a)","variables":{"a":1}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "10.9.9.9")
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				bad.Add(1)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					t.Logf("well-behaved request got %d %s", resp.StatusCode, b)
				} else {
					t.Logf("well-behaved request failed: %v", err)
				}
			} else {
				good.Add(1)
			}
			if resp != nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})

	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	cases := []hostileCase{
		{name: "script too large", path: "/api/v1/execute", body: `{"script":"` + strings.Repeat("x", 5<<10) + `"}`, status: 413, errPart: "script: larger than"},
		{name: "truncated JSON", path: "/api/v1/execute", body: `{"script":"addResult(a)","variables":{"a":`, status: 400, errPart: "body: not valid JSON"},
		{name: "not JSON", path: "/api/v1/execute", body: `script=1`, status: 400},
		{name: "array body", path: "/api/v1/execute", body: `[1,2]`, status: 400, errPart: "body: must be a JSON object"},
		{name: "empty body", path: "/api/v1/execute", body: ``, status: 400, errPart: "body: must be a JSON object"},
		{name: "script number", path: "/api/v1/execute", body: `{"script":1}`, status: 400, errPart: "script: must be a string"},
		{name: "command object", path: "/api/v1/execute", body: `{"command":{}}`, status: 400, errPart: "command: must be a string"},
		{name: "variables array", path: "/api/v1/execute", body: `{"script":"x","variables":[]}`, status: 400, errPart: "variables: must be an object"},
		{name: "params string", path: "/api/v1/execute", body: `{"script":"x","params":"a"}`, status: 400, errPart: "params: must be an object"},
		{name: "limits string", path: "/api/v1/execute", body: `{"script":"x","limits":"a"}`, status: 400, errPart: "limits: must be an object"},
		{name: "limits negative", path: "/api/v1/execute", body: `{"script":"x","limits":{"max_steps":-1}}`, status: 400, errPart: "limits.max_steps: must be a non-negative integer"},
		{name: "limits unknown", path: "/api/v1/execute", body: `{"script":"x","limits":{"bogus":1}}`, status: 400, errPart: "limits.bogus: unknown limit"},
		{name: "timeout string", path: "/api/v1/execute", body: `{"script":"x","limits":{"timeout_ms":"1"}}`, status: 400, errPart: "limits.timeout_ms"},
		{name: "items object", path: "/api/v1/execute/batch", body: `{"items":{}}`, status: 400, errPart: "items: must be an array"},
		{name: "item number", path: "/api/v1/execute/batch", body: `{"items":[{"script":"x"},1]}`, status: 400, errPart: "items[1]: must be an object"},
		{name: "item variables", path: "/api/v1/execute/batch", body: `{"items":[{"script":"x"},{"script":"x","variables":3}]}`, status: 400, errPart: "items[1].variables: must be an object"},
		{name: "too many items", path: "/api/v1/execute/batch", body: `{"items":[` + strings.Repeat(`{"script":"x"},`, 100) + `{"script":"x"}]}`, status: 413, errPart: "items: more than 100"},
		{name: "compile name number", path: "/api/v1/compile", body: `{"name":1,"script":"x"}`, status: 400, errPart: "name: must be a string"},
		{name: "invalid UTF-8", path: "/api/v1/execute", body: "{\"script\":\"a\xff\xfe\"}", status: 400, errPart: "not valid UTF-8 (at byte 12)"},
		{name: "raw NUL", path: "/api/v1/execute", body: "{\"script\":\"a\x00\"}", status: 400, errPart: "NUL"},
		{name: "escaped NUL", path: "/api/v1/execute", body: `{"script":"a\u0000"}`, status: 400, errPart: "NUL"},
		{name: "deep nesting", path: "/api/v1/execute", body: `{"script":"x","variables":` + deep + `}`, status: 400, errPart: "variables.a.a.a"},
		{name: "very deep nesting", path: "/api/v1/execute", body: `{"script":"x","variables":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}`, status: 400, errPart: "nesting deeper than 16"},
		{name: "content type", path: "/api/v1/execute", ctype: "application/xml", body: `<a/>`, status: 415},
		{name: "too many params", path: "/api/v1/execute?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9", body: `{"script":"x"}`, status: 400, errPart: "query: more than 8"},
		{name: "long param", path: "/api/v1/execute?a=" + strings.Repeat("x", 300), body: `{"script":"x"}`, status: 400, errPart: "query.a: longer than 256"},
		{name: "param bad UTF-8", path: "/api/v1/execute?a=%ff", body: `{"script":"x"}`, status: 400, errPart: "query.a: not valid UTF-8"},
		{name: "param NUL", path: "/api/v1/execute?a=%00", body: `{"script":"x"}`, status: 400, errPart: "NUL"},
		{name: "huge header", path: "/api/v1/execute", body: `{"script":"x"}`, header: map[string]string{"X-Junk": strings.Repeat("j", 16<<10)}, status: 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(tc.body))
			ct := tc.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			req.Header.Set("X-Forwarded-For", "10.1.1.1")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, b)
			}
			if tc.errPart != "" && !strings.Contains(string(b), tc.errPart) {
				t.Fatalf("body %s lacks %q", b, tc.errPart)
			}
		})
		time.Sleep(55 * time.Millisecond) // stay under this address's rate limit
	}

	t.Run("oversized body", func(t *testing.T) {
		// Only the headers are sent: a declared Content-Length over the
		// limit is answered before the body is read. (Sending the body too
		// would race the server's close against our writes: unread bytes
		// make the kernel reset the connection and drop the 413.)
		conn, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "POST /api/v1/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Forwarded-For: 10.1.1.3\r\nContent-Length: %d\r\n\r\n", 70<<10)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})

	t.Run("chunked oversized body", func(t *testing.T) {
		// The server reads chunks until the limit, answers 413 and closes;
		// bytes still in flight can make the kernel reset the connection
		// before the client reads the answer, so a reset is retried.
		var lastErr error
		for range 3 {
			status, err := chunkedOversized(client, base)
			if err != nil {
				lastErr = err
				continue
			}
			if status != 413 {
				t.Fatalf("status %d, want 413", status)
			}
			return
		}
		t.Fatal(lastErr)
	})

	t.Run("slowloris body", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /api/v1/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		closed := make(chan time.Duration, 1)
		go func() {
			_, _ = io.Copy(io.Discard, conn) // returns when the server closes
			closed <- time.Since(start)
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case d := <-closed:
				if d > 2*time.Second {
					t.Fatalf("slow client held its connection %s (read timeout 700ms)", d)
				}
				return
			case <-tick.C:
				_, _ = conn.Write([]byte(" "))
				if time.Since(start) > 3*time.Second {
					t.Fatal("slow client still connected after 3s")
				}
			}
		}
	})

	t.Run("flood from one address", func(t *testing.T) {
		var limited, passed atomic.Int64
		var fw sync.WaitGroup
		for range 4 {
			fw.Go(func() {
				for range 50 {
					req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/execute", strings.NewReader(`{"script":"x"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Forwarded-For", "203.0.113.7")
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case 429:
						limited.Add(1)
						if resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Limit") != "10" ||
							resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Reset") == "" {
							t.Errorf("429 headers: %v", resp.Header)
						}
					case 200:
						passed.Add(1)
					}
				}
			})
		}
		fw.Wait()
		if limited.Load() < 100 || passed.Load() > 60 {
			t.Fatalf("flood: %d passed, %d limited (burst 10, 20 rps)", passed.Load(), limited.Load())
		}
		if st := s.ProtectStats(); st.RejectedRateIP == 0 || st.RejectedValidation == 0 {
			t.Fatalf("stats %+v", st)
		}
	})

	close(stop)
	wg.Wait()
	if bad.Load() > 0 || good.Load() < 5 {
		t.Fatalf("well-behaved client: %d ok, %d failed", good.Load(), bad.Load())
	}
	resp, err := client.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the attack: %v %v", resp, err)
	}
	resp.Body.Close()
}

// keyStack is two edges on one NATS with API keys on.
type keyStack struct {
	nc   *nats.Conn
	kv   jetstream.KeyValue
	a, b *edge.Server
	fake *fakeExecutor
}

func newKeyStack(t *testing.T, po edge.ProtectOptions) *keyStack {
	t.Helper()
	nc := meshConn(t)
	ks := &keyStack{nc: nc}
	ks.fake = startFake(t, nc, bus.LaneInteractive, func(int64, *bus.Request) *bus.Reply { return ok(`{}`) })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if ks.kv, err = bus.OpenKeys(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	po.Keys.Enabled = true
	mk := func(node string) *edge.Server {
		o := po
		o.NodeID = node
		// Each edge gets its own connection, as separate processes would.
		c2, err := nats.Connect(nc.ConnectedUrl())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c2.Close)
		s := newServer(t, edge.Options{Conn: c2, Protect: o})
		startListening(t, s)
		return s
	}
	ks.a, ks.b = mk("edge-a"), mk("edge-b")
	return ks
}

func (ks *keyStack) addKey(t *testing.T, mod func(*bus.APIKey)) (string, bus.APIKey) {
	t.Helper()
	key, rec := bus.NewAPIKey("test", true)
	rec.Capabilities = []string{bus.KeyCapExecute}
	if mod != nil {
		mod(&rec)
	}
	if _, err := bus.PutKey(context.Background(), ks.kv, &rec); err != nil {
		t.Fatal(err)
	}
	return key, rec
}

func execReq(key string, hdr map[string]string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/execute", strings.NewReader(`{"script":"addResult(a)"}`))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

func TestAPIKeys(t *testing.T) {
	ks := newKeyStack(t, edge.ProtectOptions{})
	key, _ := ks.addKey(t, func(r *bus.APIKey) {
		r.Capabilities = []string{bus.KeyCapExecute, bus.KeyCapHTTP}
		r.MaxLimits = bus.KeyLimits{MaxSteps: 1000, TimeoutMS: 200}
	})
	resp, m := do(t, ks.a, execReq("", nil))
	if resp.StatusCode != 401 || m["reason"] != edge.ReasonKeyMissing || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: %d %v", resp.StatusCode, m)
	}
	// Change the last character; the key is random, so it may already end in 'x'.
	last := "x"
	if strings.HasSuffix(key, last) {
		last = "y"
	}
	resp, m = do(t, ks.a, execReq(key[:len(key)-1]+last, nil))
	if resp.StatusCode != 401 || m["reason"] != edge.ReasonKeyInvalid {
		t.Fatalf("bad key: %d %v", resp.StatusCode, m)
	}
	resp, m = do(t, ks.a, execReq("", map[string]string{"Authorization": "Bearer " + key}))
	if resp.StatusCode != 200 {
		t.Fatalf("bearer key: %d %v", resp.StatusCode, m)
	}
	ks.fake.mu.Lock()
	got := ks.fake.reqs[len(ks.fake.reqs)-1]
	ks.fake.mu.Unlock()
	if got.Capabilities != bus.CapNone|bus.CapHTTP || got.Limits.MaxSteps != 1000 || got.Limits.Timeout != 200*time.Millisecond {
		t.Fatalf("executor saw capabilities %b limits %+v", got.Capabilities, got.Limits)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/compile", strings.NewReader(`{"name":"a","script":"x"}`))
	req.Header.Set("X-API-Key", key)
	resp, m = do(t, ks.a, req)
	if resp.StatusCode != 403 || m["code"] != "AVAP_FORBIDDEN" {
		t.Fatalf("compile without capability: %d %v", resp.StatusCode, m)
	}
	// Public routes need no key.
	if resp, _ := get(t, ks.a, "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// TestKeyRevokedEverywhere revokes a key in the bucket (what `avap keys
// revoke` does) and checks both edges refuse it within 1 s.
func TestKeyRevokedEverywhere(t *testing.T) {
	ks := newKeyStack(t, edge.ProtectOptions{})
	key, rec := ks.addKey(t, nil)
	for _, s := range []*edge.Server{ks.a, ks.b} {
		if resp, m := do(t, s, execReq(key, nil)); resp.StatusCode != 200 {
			t.Fatalf("before revocation: %d %v", resp.StatusCode, m)
		}
	}
	rec.Revoked, rec.RevokedAt = true, time.Now()
	start := time.Now()
	if _, err := bus.PutKey(context.Background(), ks.kv, &rec); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*edge.Server{ks.a, ks.b} {
		for {
			resp, m := do(t, s, execReq(key, nil))
			if resp.StatusCode == 401 && m["reason"] == edge.ReasonKeyRevoked {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("revoked key still accepted after 1s: %d %v", resp.StatusCode, m)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("revocation reached both edges in %s", time.Since(start))
}

func signedReq(secret []byte, key, body, nonce string, ts time.Time) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/execute?b=2&a=1", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	req.Header.Set(edge.HeaderTimestamp, fmt.Sprint(ts.Unix()))
	req.Header.Set(edge.HeaderNonce, nonce)
	req.Header.Set(edge.HeaderSignature, edge.SignRequest(secret, "POST", "/api/v1/execute", "b=2&a=1", ts.Unix(), nonce, []byte(body)))
	return req
}

func TestSignedRequests(t *testing.T) {
	ks := newKeyStack(t, edge.ProtectOptions{Signing: edge.SigningOptions{Window: time.Minute}})
	key, rec := ks.addKey(t, func(r *bus.APIKey) { r.RequireSignature = true })
	secret, _ := hex.DecodeString(rec.SigningSecret)
	body := `{"script":"addResult(a)"}`
	now := time.Now()

	if resp, m := do(t, ks.a, signedReq(secret, key, body, "nonce-0000000000001", now)); resp.StatusCode != 200 {
		t.Fatalf("valid signature: %d %v", resp.StatusCode, m)
	}
	cases := []struct {
		name   string
		s      *edge.Server
		req    *http.Request
		reason string
	}{
		{"replay same edge", ks.a, signedReq(secret, key, body, "nonce-0000000000001", now), edge.ReasonNonceReplayed},
		{"replay other edge", ks.b, signedReq(secret, key, body, "nonce-0000000000001", now), edge.ReasonNonceReplayed},
		{"wrong secret", ks.a, signedReq([]byte("0123456789abcdef0123456789abcdef"), key, body, "nonce-0000000000002", now), edge.ReasonSignatureInvalid},
		{"stale timestamp", ks.b, signedReq(secret, key, body, "nonce-0000000000003", now.Add(-2*time.Minute)), edge.ReasonTimestampStale},
		{"future timestamp", ks.b, signedReq(secret, key, body, "nonce-0000000000004", now.Add(2*time.Minute)), edge.ReasonTimestampStale},
		{"short nonce", ks.a, signedReq(secret, key, body, "n1", now), edge.ReasonNonceInvalid},
		{"unsigned", ks.a, execReq(key, nil), edge.ReasonSignatureMissing},
	}
	tampered := signedReq(secret, key, body, "nonce-0000000000005", now)
	tampered.Body = io.NopCloser(strings.NewReader(`{"script":"addResult(b)"}`))
	cases = append(cases, struct {
		name   string
		s      *edge.Server
		req    *http.Request
		reason string
	}{"tampered body", ks.a, tampered, edge.ReasonSignatureInvalid})
	for _, tc := range cases {
		resp, m := do(t, tc.s, tc.req)
		if resp.StatusCode != 401 || m["reason"] != tc.reason || m["code"] != "AVAP_UNAUTHORIZED" {
			t.Errorf("%s: %d %v, want 401 %s", tc.name, resp.StatusCode, m, tc.reason)
		}
	}
	// The forged request did not burn nonce 2: the real client may use it.
	if resp, m := do(t, ks.b, signedReq(secret, key, body, "nonce-0000000000002", now)); resp.StatusCode != 200 {
		t.Fatalf("valid signature on edge b: %d %v", resp.StatusCode, m)
	}
}

// TestRateLimitAcrossEdges drives one key limited to N req/s through two
// edges for W seconds. Bound (ratelimit_share.go): admitted ≤ N·W + E·b +
// (E−1)·N·(T+d); we accept [0.8·N·W, N·W + 2b + 0.25·N·W] — the upper
// slack covers scheduling noise on a loaded 2-core CI box.
func TestRateLimitAcrossEdges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 1.5s")
	}
	const n, burst, w = 40.0, 4, 1500 * time.Millisecond
	ks := newKeyStack(t, edge.ProtectOptions{RateLimit: edge.RateLimitOptions{PerKey: edge.RateLimit{RPS: n, Burst: burst}}})
	key, _ := ks.addKey(t, nil)
	var admitted, limited atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range []*edge.Server{ks.a, ks.b} {
		for range 2 {
			wg.Go(func() {
				for time.Since(start) < w {
					resp, err := s.App().Test(execReq(key, nil), -1)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 200:
						admitted.Add(1)
					case 429:
						if limited.Add(1) == 1 {
							if resp.Header.Get("RateLimit-Limit") != fmt.Sprint(burst) || resp.Header.Get("Retry-After") != "1" {
								t.Errorf("429 headers %v", resp.Header)
							}
						}
					default:
						t.Errorf("status %d", resp.StatusCode)
					}
				}
			})
		}
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	want := n * el
	got := float64(admitted.Load())
	t.Logf("admitted %v in %.2fs across 2 edges (limit %v/s → %.0f), %d refused", got, el, n, want, limited.Load())
	if got < 0.8*want || got > want+2*burst+0.25*want {
		t.Fatalf("admitted %v, want about %.0f", got, want)
	}
}

func TestCORS(t *testing.T) {
	s := newServer(t, edge.Options{Protect: edge.ProtectOptions{CORS: edge.CORSOptions{Enabled: true, AllowOrigins: []string{"https://app.example"}}}})
	req := httptest.NewRequest(http.MethodOptions, "/api/v1/execute", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, _ := do(t, s, req)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, _ = do(t, s, req)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", resp.Header)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS without TLS")
	}
}

func TestRedactedLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	key, _ := bus.NewAPIKey("x", false)
	s := newServer(t, edge.Options{
		AccessLog: true,
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)),
	})
	if resp, _ := get(t, s, "/nope/"+key); resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), key[18:]) || !strings.Contains(buf.String(), "[redacted]") {
		t.Fatalf("access log leaks the key: %s", buf.String())
	}
}

func TestRedactString(t *testing.T) {
	key, _ := bus.NewAPIKey("x", false)
	in := `key ` + key + ` auth Bearer abc.def sig v1=0123456789abcdef0123 body {"password": "hunter2","user":"bob"}`
	out := edge.RedactString(in, []string{"password"})
	for _, secret := range []string{key[18:], "abc.def", "0123456789abcdef0123", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived: %s", secret, out)
		}
	}
	if !strings.Contains(out, "bob") || !strings.Contains(out, key[:17]) {
		t.Errorf("redacted too much: %s", out)
	}
	if edge.RedactString("plain", nil) != "plain" {
		t.Error("plain text changed")
	}
}

func TestOpenAPIDocumentsProtection(t *testing.T) {
	s := newServer(t, edge.Options{})
	_, doc := get(t, s, "/api/v1/openapi.json")
	comp := doc["components"].(map[string]any)
	if _, ok := comp["securitySchemes"].(map[string]any)["ApiKey"]; !ok {
		t.Fatal("no ApiKey security scheme")
	}
	resp := comp["responses"].(map[string]any)
	rl := resp["RateLimited"].(map[string]any)["headers"].(map[string]any)
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"} {
		if rl[h] == nil {
			t.Errorf("429 lacks header %s", h)
		}
	}
	exec := doc["paths"].(map[string]any)["/api/v1/execute"].(map[string]any)["post"].(map[string]any)
	for _, code := range []string{"401", "403", "429"} {
		if exec["responses"].(map[string]any)[code] == nil {
			t.Errorf("execute lacks %s", code)
		}
	}
}

// chunkedOversized posts an 80 KiB chunked body and returns the status.
func chunkedOversized(client *http.Client, base string) (int, error) {
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"script":"`))
		for range 80 {
			if _, err := pw.Write([]byte(strings.Repeat("y", 1<<10))); err != nil {
				return
			}
		}
		_, _ = pw.Write([]byte(`"}`))
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/execute", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "10.1.1.2")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
