package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is an `avap serve` child process with its stderr captured.
type proc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startServe starts `avap serve` with args and waits until /healthz
// answers on addr. addr is passed as AVAP_HTTP_ADDR unless the args
// (a config file) set it.
func startServe(t *testing.T, bin, addr string, args ...string) *proc {
	t.Helper()
	p := &proc{addr: addr}
	p.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	p.cmd.Env = envWithout("AVAP_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "NO_COLOR=1")
	if !slices.Contains(args, "--config") {
		p.cmd.Env = append(p.cmd.Env, "AVAP_HTTP_ADDR="+addr)
	}
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	if !waitHealthy("http://"+addr+"/healthz", 10*time.Second) {
		t.Fatalf("serve not healthy:\n%s", p.output())
	}
	return p
}

func waitHealthy(url string, d time.Duration) bool {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

func (p *proc) waitLog(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("log never contained %q:\n%s", substr, p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatalf("process did not exit:\n%s", p.output())
		return -1
	}
}

func avapBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("avap")
	if err != nil {
		t.Skip("avap not in PATH (testscript.Main sets it up)")
	}
	return bin
}

// TestServeSIGHUP: a changed log.level applies without a restart; a changed
// http.addr is refused, logged, and the server keeps its old address.
func TestServeSIGHUP(t *testing.T) {
	bin := avapBin(t)
	addr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "avap.yaml")
	write := func(level, httpAddr string) {
		y := "log:\n  level: " + level + "\n  format: json\nhttp:\n  addr: " + httpAddr + "\n"
		if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("info", addr)
	p := startServe(t, bin, addr, "--config", cfg)

	write("debug", addr)
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, `"msg":"config reloaded","component":"config","changed":"log.level"`)
	write("debug", "127.0.0.1:1")
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "config reload not supported for http.addr")
	if !waitHealthy("http://"+addr+"/api/v1/health", time.Second) {
		t.Fatal("server stopped answering on its old address")
	}

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.output())
	}
	out := p.output()
	if !strings.Contains(out, `"level":"DEBUG"`) {
		t.Errorf("no debug lines after the level changed to debug:\n%s", out)
	}
}

// TestServeSIGTERMInFlight: a request in flight when SIGTERM arrives is
// answered; new connections are refused; the process exits 0.
func TestServeSIGTERMInFlight(t *testing.T) {
	bin := avapBin(t)
	addr := freeAddr(t)
	p := startServe(t, bin, addr, "--log-level", "debug")

	// Send a request whose body is still arriving when the signal comes.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog(t, "shutting down")

	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break // listener closed: new connections are refused
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still open")
		}
		time.Sleep(5 * time.Millisecond)
	}

	if _, err := io.WriteString(c, "def"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v\n%s", err, p.output())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status %d, want 405 (POST to a GET route)", resp.StatusCode)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "avap stopped") {
		t.Errorf("no clean stop:\n%s", p.output())
	}
}

// TestServeAlongsideSystemNATS: serve starts even when something already
// listens on 4222 (the embedded server opens no TCP port by default).
func TestServeAlongsideSystemNATS(t *testing.T) {
	bin := avapBin(t)
	l, err := net.Listen("tcp", "127.0.0.1:4222")
	if err == nil {
		defer l.Close() // nothing was there; hold the port ourselves
	}
	p := startServe(t, bin, freeAddr(t))
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.output())
	}
}

// TestServeSecondSignalForcesExit: a second SIGTERM during a slow drain
// exits at once with status 1.
func TestServeSecondSignalForcesExit(t *testing.T) {
	bin := avapBin(t)
	addr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "avap.yaml")
	if err := os.WriteFile(cfg, []byte("http:\n  addr: "+addr+"\n  shutdown_delay: 30s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, addr, "--config", cfg)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog(t, "edge draining")
	// Draining: readiness is 503 while the listener is still open.
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining = %d", resp.StatusCode)
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, p.output())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("forced exit took %s", d)
	}
	if !strings.Contains(p.output(), "second signal") {
		t.Errorf("no log line for the forced exit:\n%s", p.output())
	}
}
