package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoAllowRoot: nothing shipped under deploy/ lets avap run as root.
// The image and the units run it as an unprivileged user; allow_root is an
// operator's explicit choice, never a default of these files.
func TestNoAllowRoot(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".md") || p == "go.sum" || p == "go.mod" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for _, bad := range []string{"ALLOW_ROOT", "allow_root", "allow-root"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s mentions %s: deploy files must not let avap run as root", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d files checked under deploy/", n)
	}
}

// TestImageEnvRefusedAsRoot runs the binary with the image's environment
// (http.addr 0.0.0.0:8080) as root, as `docker run --user 0` would: it must
// refuse to start (exit 1) before listening. Only meaningful as root.
func TestImageEnvRefusedAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs euid 0 to exercise the root refusal")
	}
	var env []string
	for _, in := range parseDockerfile(t, "docker/Dockerfile") {
		if in.cmd == "ENV" {
			env = append(env, strings.Fields(in.args)...)
		}
	}
	if len(env) == 0 {
		t.Fatal("no ENV in the Dockerfile")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, avapBin, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Env = append(cmd.Env, "AVAP_DATA_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("avap serve as root with the image env: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "refusing to run serve as root") || !strings.Contains(string(out), "http.addr=0.0.0.0:8080") {
		t.Errorf("output %q, want the root refusal naming http.addr", out)
	}
}
