package edge_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/nats/natstest"
)

// BenchmarkProtectedExecute is requests/s through edge -> in-process NATS
// -> a fake executor that answers at once, with API keys + rate limits off
// and on (req/s = 1e9 / ns/op).
func BenchmarkProtectedExecute(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "keys+ratelimit"
		}
		b.Run(name, func(b *testing.B) {
			ns := natstest.RunInProcess(b)
			nc, err := nats.Connect("", nats.InProcessServer(ns))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			rep := ok(`{"x":5}`).AppendMsgpack(nil)
			if _, err := nc.QueueSubscribe(bus.ExecPrefix+".interactive", bus.ExecutorQueue, func(m *nats.Msg) { _ = m.Respond(rep) }); err != nil {
				b.Fatal(err)
			}
			key, rec := bus.NewAPIKey("bench", false)
			rec.Capabilities = []string{bus.KeyCapExecute}
			var po edge.ProtectOptions
			if on {
				js, _ := jetstream.New(nc)
				kv, err := bus.OpenKeys(context.Background(), js)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bus.PutKey(context.Background(), kv, &rec); err != nil {
					b.Fatal(err)
				}
				po.Keys.Enabled = true
				po.RateLimit = edge.RateLimitOptions{PerIP: edge.RateLimit{RPS: 1e9, Burst: 1 << 30}, PerKey: edge.RateLimit{RPS: 1e9, Burst: 1 << 30}}
			}
			s, err := edge.New(edge.Options{Addr: "127.0.0.1:0", Conn: nc, Protect: po})
			if err != nil {
				b.Fatal(err)
			}
			h := s.App().Handler()
			body := []byte(`{"script":"addVar(x, 5)\naddResult(x)"}`)
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				for pb.Next() {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.ResetUserValues() // as fasthttp does between requests
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/api/v1/execute")
					ctx.Request.Header.SetContentType("application/json")
					ctx.Request.Header.Set(edge.HeaderAPIKey, key)
					ctx.Request.SetBody(body)
					h(&ctx)
					if ctx.Response.StatusCode() != 200 {
						b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
