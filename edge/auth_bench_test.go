package edge

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/avapmesh/avap/bus"
)

// BenchmarkGuardChain measures the whole middleware chain (front
// middleware, guard, execute handler parse) without the mesh: the edge has
// no NATS connection, so the handler answers 503 right after reading the
// body. "off" is the default configuration; "on" adds an API key (found in
// the ring), per-IP and per-key rate limits (high enough never to refuse)
// and body validation. The difference is the guard's cost per request.
func BenchmarkGuardChain(b *testing.B) {
	body := []byte(`{"script":"addVar(x, 5)\naddResult(x)","variables":{"a":1,"b":[1,2,3]}}`)
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			var po ProtectOptions
			key, rec := bus.NewAPIKey("bench", false)
			rec.Capabilities = []string{bus.KeyCapExecute}
			if on {
				po.Keys.Enabled = true
				po.RateLimit = RateLimitOptions{PerIP: RateLimit{RPS: 1e9, Burst: 1 << 30}, PerKey: RateLimit{RPS: 1e9, Burst: 1 << 30}, NoShare: true}
			}
			s, err := New(Options{Addr: "127.0.0.1:0", Protect: po})
			if err != nil {
				b.Fatal(err)
			}
			if on {
				e, err := newKeyEntry(rec)
				if err != nil {
					b.Fatal(err)
				}
				s.guard.keys.byID[rec.ID] = e
				s.guard.keys.mirror.started = true
			}
			h := s.App().Handler()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				for pb.Next() {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.ResetUserValues() // as fasthttp does between requests
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/api/v1/execute?a=1")
					ctx.Request.Header.SetContentType("application/json")
					ctx.Request.Header.Set(HeaderAPIKey, key)
					ctx.Request.SetBody(body)
					h(&ctx)
					if ctx.Response.StatusCode() != 503 {
						b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
			})
		})
	}
}
