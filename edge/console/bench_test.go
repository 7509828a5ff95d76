package console_test

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkExecuteHandler measures POST /api/v1/execute through the whole
// stack (edge -> in-process NATS -> executor -> VM) with the console
// mounted and without it: the console adds only GET routes, so the two
// must not differ beyond noise. Compare with benchstat:
//
//	go test ./edge/console -run '^$' -bench ExecuteHandler -count 8 | tee out.txt
func BenchmarkExecuteHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		on   bool
	}{{"console=off", false}, {"console=on", true}} {
		b.Run(c.name, func(b *testing.B) {
			srv := stack(b, c.on)
			h := srv.App().Handler()
			body := []byte(`{"script":"addVar(x, 5)\naddResult(x)"}`)
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				for pb.Next() {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/api/v1/execute")
					ctx.Request.Header.SetContentType("application/json")
					ctx.Request.SetBody(body)
					h(&ctx)
					if ctx.Response.StatusCode() != 200 {
						b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
			})
		})
	}
}

// BenchmarkExecuteRouting isolates what the console could add: routing
// and middleware of POST /api/v1/execute on an edge without a mesh (the
// handler answers 503 at once), with the console mounted and without it.
func BenchmarkExecuteRouting(b *testing.B) {
	for _, c := range []struct{ name, path string }{{"console=off", "-"}, {"console=on", "/"}} {
		b.Run(c.name, func(b *testing.B) {
			h := newEdge(b, c.path).App().Handler()
			body := []byte(`{"script":"addVar(x, 5)\naddResult(x)"}`)
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod("POST")
				ctx.Request.SetRequestURI("/api/v1/execute")
				ctx.Request.Header.SetContentType("application/json")
				ctx.Request.SetBody(body)
				h(&ctx)
				if ctx.Response.StatusCode() != 503 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}
