package executor

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

// BenchmarkRoundTrip measures one trivial script through NATS request ->
// executor -> VM -> reply, over the in-process connection, with parallel
// callers on the shared response subscription.
func BenchmarkRoundTrip(b *testing.B) {
	needVM(b)
	s := natstest.RunInProcess(b)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	start(b, Options{Conn: nc, Commands: NewMemoryCommands()})
	subj, _ := bus.ExecSubject(bus.LaneInteractive)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		req := bus.Request{Script: "addVar(x, 5)\naddResult(x)\n", ID: "bench"}
		var rep bus.Reply
		buf := make([]byte, 0, 512)
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req.DeadlineUnixNano = 0
			err := bus.Call(ctx, nc, subj, &req, &rep, buf)
			cancel()
			if err != nil || !rep.Success {
				b.Fatalf("%v %+v", err, rep)
			}
		}
	})
}
