package main

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStartToHealthy measures process start to the first 200 from
// /healthz for `avap serve` (embedded NATS with JetStream, edge), using a
// freshly built binary. Reported as ms/start; target < 300 ms.
//
//	go test -run '^$' -bench StartToHealthy -benchtime 20x ./cmd/avap
func BenchmarkStartToHealthy(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "avap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var total time.Duration
	n := 0
	for b.Loop() {
		addr := freeAddr(b)
		cmd := exec.Command(bin, "serve")
		cmd.Env = envWithout("AVAP_HTTP_ADDR="+addr, "AVAP_DATA_DIR="+b.TempDir(), "AVAP_LOG_LEVEL=warn")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if !waitHealthy("http://"+addr+"/healthz", 10*time.Second) {
			_ = cmd.Process.Kill()
			b.Fatal("not healthy")
		}
		total += time.Since(start)
		n++
		b.StopTimer()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()*1000/float64(n), "ms/start")
}
