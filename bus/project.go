package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Project is a deployed AVAP API as stored in ProjectsBucket (JSON, key =
// Name): its files, the source the executors run, and the routes its
// top-level registerEndpoint calls define (LANGUAGE.md §12.10).
type Project struct {
	Name     string            `json:"name"`
	Files    map[string]string `json:"files"`  // path -> source, as uploaded
	Order    []string          `json:"order"`  // the files in the order they are joined
	Source   string            `json:"source"` // the files joined, registerEndpoint calls blanked out (lines kept)
	Routes   []Route           `json:"routes"`
	Deployed time.Time         `json:"deployed"`
}

// Route is one registerEndpoint(path, method, middleware, description,
// handler, output).
type Route struct {
	Path        string   `json:"path"`
	Method      string   `json:"method"`
	Middleware  []string `json:"middleware"`
	Description string   `json:"description,omitempty"`
	Handler     string   `json:"handler"`
	Output      string   `json:"output,omitempty"`
}

// Endpoint run conventions, shared by the executor (which compiles the
// scripts when a project is deployed) and the edge (which sends them).
const (
	// EndpointVariables pre-seeds every endpoint run so the generated code
	// can test whether top-level code or a middleware set _status.
	EndpointVariables = `{"_status":null}`
	// EndpointReturn is the global that receives the handler's return value.
	EndpointReturn = "__avap_return"
)

// MaxProjectNameLen bounds a project name.
const MaxProjectNameLen = 64

// ErrInvalidProjectName is returned by ValidProjectName.
var ErrInvalidProjectName = errors.New("invalid project name")

// ValidProjectName accepts 1 to MaxProjectNameLen lower-case letters,
// digits, '-' and '_', starting with a letter or digit (a URL path segment
// and a KV key).
func ValidProjectName(name string) error {
	if name == "" || len(name) > MaxProjectNameLen || name[0] == '-' || name[0] == '_' {
		return fmt.Errorf("%w: %q", ErrInvalidProjectName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q", ErrInvalidProjectName, name)
		}
	}
	return nil
}

// EndpointScript is the program run for one request to route r of
// project p: the project source (its top-level statements run first), then
// each middleware in order and the handler, each only while _status is
// still None — a middleware that sets _status stops the request, one that
// fails fails it. The handler's return value goes to EndpointReturn.
// Middleware and handler names were checked to be identifiers of functions
// of the project when it was deployed.
func EndpointScript(source string, r *Route) string {
	var b strings.Builder
	b.Grow(len(source) + 64*(len(r.Middleware)+1))
	b.WriteString(source)
	if !strings.HasSuffix(source, "\n") {
		b.WriteByte('\n')
	}
	for _, m := range r.Middleware {
		b.WriteString("if(None, None, \"_status == None\")\n  ")
		b.WriteString(m)
		b.WriteString("()\nend()\n")
	}
	b.WriteString("if(None, None, \"_status == None\")\n  ")
	b.WriteString(EndpointReturn + " = " + r.Handler)
	b.WriteString("()\nend()\n")
	return b.String()
}

// OpenProjects creates (or opens) ProjectsBucket. Writers (executors) and
// readers (edges) call it alike, so either may start first.
func OpenProjects(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ProjectsBucket,
		Description: "AVAP deployed projects (bus.Project JSON)",
		History:     5,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", ProjectsBucket, err)
	}
	return kv, nil
}
