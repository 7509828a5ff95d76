package executor

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
	"github.com/avapmesh/avap/vm"
)

// TestBulkheadAdmission: the lanes are separate bulkheads. With the batch
// lane's queue full, batch requests are refused AVAP_OVERLOADED while
// interactive requests are still admitted, and the other way round.
func TestBulkheadAdmission(t *testing.T) {
	e, err := New(Options{Conn: &nats.Conn{}, Workers: 2, BatchWorkers: 1, QueueSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	inter, batch := e.lanes[laneIndex(bus.LaneInteractive)], e.lanes[laneIndex(bus.LaneBatch)]
	if inter == batch || inter.q == batch.q || inter.workers != 2 || batch.workers != 1 {
		t.Fatalf("lanes share a pool or queue: %+v %+v", inter, batch)
	}
	for range 3 { // workers are not started: the queue only fills
		f := &fakeRequest{}
		e.admit(batch, f)
		if f.code != "" {
			t.Fatalf("batch refused before its queue is full: %+v", f.reply)
		}
	}
	f := &fakeRequest{}
	e.admit(batch, f)
	if f.reply.Code != bus.CodeOverloaded {
		t.Fatalf("batch over its queue: %+v", f.reply)
	}
	for i := range 3 {
		f := &fakeRequest{}
		e.admit(inter, f)
		if f.code != "" {
			t.Fatalf("interactive %d refused while only the batch queue is full: %+v", i, f.reply)
		}
	}
	f = &fakeRequest{}
	e.admit(inter, f)
	if f.reply.Code != bus.CodeOverloaded {
		t.Fatalf("interactive over its own queue: %+v", f.reply)
	}
	st := e.Statz()
	if st.Queued["batch"] != 3 || st.Queued["interactive"] != 3 || st.QueueCapacity["batch"] != 3 || st.Workers["batch"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.closeLanes()
}

// BenchmarkBulkheadInteractiveUnderBatchFlood measures interactive latency
// while the batch lane is flooded with slow runs (both lanes get one
// worker so the machine's cores are not the bottleneck). Compare its
// p50/p99 with BenchmarkBulkheadInteractiveAlone:
//
//	go test -run '^$' -bench Bulkhead -benchtime 2000x ./executor
func BenchmarkBulkheadInteractiveUnderBatchFlood(b *testing.B) { benchBulkhead(b, true) }

// BenchmarkBulkheadInteractiveAlone is the same without the flood.
func BenchmarkBulkheadInteractiveAlone(b *testing.B) { benchBulkhead(b, false) }

func benchBulkhead(b *testing.B, flood bool) {
	needVM(b)
	s := natstest.Run(b)
	nc := connect(b, s)
	start(b, Options{Conn: nc, Workers: 1, BatchWorkers: 1, QueueSize: 64, MaxLimits: vm.Limits{MaxSteps: 1 << 50}})
	batchSubj, _ := bus.ExecSubject(bus.LaneBatch)
	interSubj, _ := bus.ExecSubject(bus.LaneInteractive)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if flood {
		slow := &bus.Request{Script: "addVar(n, 0)\nstartLoop(i, 1, 20000)\n  n = n + 1\nendLoop()\naddResult(n)\n"}
		fc := connect(b, s)
		for range 16 { // 16 concurrent batch senders keep the batch queue full
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = call(b, fc, batchSubj, slow, 5*time.Second)
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
	}
	req := &bus.Request{Script: "addVar(x, 5)\naddResult(x)\n"}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		rep, err := call(b, nc, interSubj, req, 5*time.Second)
		if err != nil || !rep.Success {
			b.Fatalf("interactive: %v %+v", err, rep)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-us")
	b.ReportMetric(q(0.99), "p99-us")
}
