package executor_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps: the executor may use vm, bus, nats.go and its caches, never the
// edge, the registry internals or the embedded server.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{"github.com/avapmesh/avap/vm", "github.com/avapmesh/avap/bus",
		"github.com/nats-io/nats.go", "github.com/hashicorp/golang-lru/v2", "golang.org/x/sync/",
		"github.com/jackc/pgx/v5",
		"github.com/prometheus/client_golang/prometheus", "go.opentelemetry.io/otel/"} // injected Registerer and TracerProvider (observe.go)
	for _, imp := range strings.Fields(string(out)) {
		if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || imp == a || strings.HasPrefix(imp, a+"/") || strings.HasPrefix(imp, a)
		}
		if !ok {
			t.Errorf("executor imports %s", imp)
		}
	}
}
