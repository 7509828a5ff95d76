package nats_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the package a thin wrapper: nats-server and the standard
// library only (plus what nats-server itself needs).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{".", "./natstest"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			if imp != "github.com/nats-io/nats-server/v2/server" {
				t.Errorf("%s imports %s; only nats-server and the standard library are allowed", pkg, imp)
			}
		}
	}
}
