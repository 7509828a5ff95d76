package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeLogFile: with log.file.path, `avap serve` writes its log lines
// to the file as well as to stderr, request lines included, and closes it
// on exit.
func TestServeLogFile(t *testing.T) {
	bin := avapBin(t)
	addr := freeAddr(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log", "avap.log")
	cfg := filepath.Join(dir, "avap.yaml")
	y := "log:\n  format: json\n  file:\n    path: " + logPath + "\n    max_size_mb: 5\nhttp:\n  addr: " + addr + "\n"
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, addr, "--config", cfg)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/info", nil)
	req.Header.Set("X-Request-ID", "logfile-req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.output())
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	file := string(b)
	for _, want := range []string{`"msg":"edge listening"`, `"request_id":"logfile-req-1"`} {
		if !strings.Contains(file, want) {
			t.Errorf("log file lacks %s:\n%s", want, file)
		}
		if !strings.Contains(p.output(), want) {
			t.Errorf("stderr lacks %s", want)
		}
	}
}
