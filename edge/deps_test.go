package edge_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the package map (STYLE.md 2.1): the edge speaks HTTP and
// the bus, never the VM interpreter or the registry write path.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	allowed := []string{
		"github.com/gofiber/fiber/v2",
		"github.com/nats-io/nats.go",
		"github.com/nats-io/nuid",
		"github.com/hashicorp/golang-lru/v2/expirable",   // session table (execute_session.go)
		"github.com/prometheus/client_golang/prometheus", // injected Registerer (observe.go)
		"go.opentelemetry.io/otel/attribute",             // spans from an injected TracerProvider
		"go.opentelemetry.io/otel/codes",
		"go.opentelemetry.io/otel/trace",
		"github.com/avapmesh/avap/bus",
		"github.com/avapmesh/avap/vm/syntax",
		"golang.org/x/time/rate",
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
next:
	for _, imp := range strings.Fields(string(out)) {
		if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			continue
		}
		for _, a := range allowed {
			if imp == a || strings.HasPrefix(imp, a+"/") {
				continue next
			}
		}
		t.Errorf("edge imports %s, outside its allow-list", imp)
	}
}
