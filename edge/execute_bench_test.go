package edge_test

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/avapmesh/avap/executor"
)

// BenchmarkExecuteHandler drives the Fiber handler chain directly (no
// sockets) through the whole mesh: edge -> in-process NATS -> executor ->
// VM -> edge, for the trivial script of the load harness.
func BenchmarkExecuteHandler(b *testing.B) {
	srv := stack(b, executor.Options{})
	h := srv.App().Handler()
	body := []byte(`{"script":"addVar(x, 5)\naddResult(x)"}`)
	b.ReportAllocs()
	b.SetParallelism(16)
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
}
