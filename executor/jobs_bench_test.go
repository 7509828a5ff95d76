package executor

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

// BenchmarkJobsEndToEnd measures durable jobs from submission (record +
// publish) to the stored result (record CAS + ack), on file storage, with
// a small script; it reports jobs/s.
func BenchmarkJobsEndToEnd(b *testing.B) {
	s := natstest.RunInProcess(b)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	jobs := openJobs(b, nc, bus.JobsConfig{AckWait: 30 * time.Second})
	e := start(b, Options{Conn: nc})
	r := startRunner(b, e, JobOptions{Jobs: jobs, Workers: 8})
	req := bus.Request{Lane: bus.LaneBatch, Script: "addVar(x, 5)\naddResult(x)"}
	payload := req.AppendMsgpack(nil)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, _, err := jobs.Submit(context.Background(), bus.JobSubmission{Priority: bus.PriorityNormal, Request: payload}); err != nil {
			b.Fatal(err)
		}
	}
	for r.Stats().Succeeded < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}
