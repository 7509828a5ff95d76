package edge_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/nats/natstest"
)

// BenchmarkTelemetryOverhead is BenchmarkExecuteHandler (edge -> in-process
// NATS -> executor -> VM -> edge, trivial script) with telemetry off,
// metrics only, and metrics plus tracing sampling no trace (ratio 0: spans
// are created but not recorded) or every trace (ratio 1, exported to a
// discarding batcher as an OTLP exporter would be). Compare ns/op and
// allocs/op across the sub-benchmarks; requests/s = 1e9 / ns/op.
func BenchmarkTelemetryOverhead(b *testing.B) {
	sampled := func(r float64) trace.TracerProvider {
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r))),
			sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	for _, c := range []struct {
		name    string
		metrics bool
		tracer  func() trace.TracerProvider
	}{
		{"off", false, nil},
		{"metrics", true, nil},
		{"metrics+tracing_sample0", true, func() trace.TracerProvider { return sampled(0) }},
		{"metrics+tracing_sample1", true, func() trace.TracerProvider { return sampled(1) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var reg prometheus.Registerer
			if c.metrics {
				reg = prometheus.NewRegistry()
			}
			var tp trace.TracerProvider
			if c.tracer != nil {
				tp = c.tracer()
			}
			srv := observedStack(b, reg, tp)
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
		})
	}
}

// observedStack is stack (execute_stack_test.go) with telemetry on both
// the edge and the executor.
func observedStack(t testing.TB, reg prometheus.Registerer, tp trace.TracerProvider) *edge.Server {
	t.Helper()
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ex, err := executor.New(executor.Options{Conn: nc, Metrics: reg, Tracer: tp})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Shutdown(context.Background()) })
	srv, err := edge.New(edge.Options{Addr: "127.0.0.1:0", Conn: nc, Metrics: reg, Tracer: tp,
		InfoExtra: edge.MeshInfo(nc, 100*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}
