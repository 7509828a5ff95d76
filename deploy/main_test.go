package deploy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the root of the avap repository (the parent of deploy/).
const repoRoot = ".."

// avapBin is the avap binary the config tests run; set by TestMain.
var avapBin string

// TestMain builds cmd/avap once (unless AVAP_BIN names a binary) so that the
// config tests ask the real server which keys it accepts.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if b := os.Getenv("AVAP_BIN"); b != "" {
		avapBin = b
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "avap-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	avapBin = filepath.Join(dir, "avap")
	cmd := exec.Command("go", "build", "-o", avapBin, "./cmd/avap")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "deploy tests: go build ./cmd/avap: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// checkConfig runs `avap <args...> --check-config` with env (NAME=value)
// added to a minimal environment and returns the effective configuration
// from the digest it prints, key -> value.
func checkConfig(t *testing.T, env []string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(avapBin, append(args, "--check-config")...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("avap %s --check-config: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		// Unknown AVAP_ variables come back as warnings on stderr.
		t.Errorf("avap %s --check-config wrote to stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	digest := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, "  # ")
		digest[k] = strings.TrimSpace(v)
	}
	if len(digest) == 0 {
		t.Fatalf("avap %s --check-config printed no keys:\n%s", strings.Join(args, " "), stdout.String())
	}
	return digest
}

// stopBudget is how long avap takes to stop with this config at most:
// the process's own stop timeout (cmd/avap node.stopTimeout).
func stopBudget(t *testing.T, digest map[string]string) time.Duration {
	t.Helper()
	var sum time.Duration
	for _, k := range []string{"http.shutdown_delay", "http.grace", "executor.grace", "nats.lame_duck"} {
		d, err := time.ParseDuration(digest[k])
		if err != nil {
			t.Fatalf("digest %s = %q: %v", k, digest[k], err)
		}
		sum += d
	}
	return sum + 10*time.Second
}

// envKeys returns the AVAP_ variable name of every config key the digest lists.
func envKeys(digest map[string]string) map[string]bool {
	m := map[string]bool{}
	for k := range digest {
		m["AVAP_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = true
	}
	return m
}
