package bus_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps bus a leaf of the mesh: nats.go packages and the standard
// library only (never vm, executor, edge or registry).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			continue // standard library
		}
		if !strings.HasPrefix(imp, "github.com/nats-io/nats.go") {
			t.Errorf("bus imports %s; only nats.go and the standard library are allowed", imp)
		}
	}
}
