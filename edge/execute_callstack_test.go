package edge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/avapmesh/avap/executor"
)

// TestErrorCallStack: a runtime error in a function called from a function
// answers with the AVAP call stack, innermost first, all the way from the
// VM through the executor's reply and the mesh to the HTTP envelope.
func TestErrorCallStack(t *testing.T) {
	srv := stack(t, executor.Options{})
	script := "function inner(a){\n" + // 1
		"  x = a / 0\n" + // 2: fails here
		"  return(x)\n" + // 3
		"}\n" + // 4
		"function outer(b){\n" + // 5
		"  y = inner(b)\n" + // 6: calls inner
		"  return(y)\n" + // 7
		"}\n" + // 8
		"r = outer(1)\n" + // 9: calls outer
		"addResult(r)\n"
	jb, _ := json.Marshal(map[string]any{"script": script})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/execute", strings.NewReader(string(jb)))
	req.Header.Set("Content-Type", "application/json")
	resp, m := do(t, srv, req)
	if resp.StatusCode == http.StatusOK || m["success"] != false || m["code"] != "AVAP_RUNTIME" {
		t.Fatalf("status %d: %v", resp.StatusCode, m)
	}
	raw, _ := json.Marshal(m["stack"])
	var frames []struct {
		Function     string
		Line, Column int
	}
	if err := json.Unmarshal(raw, &frames); err != nil {
		t.Fatalf("stack %s: %v", raw, err)
	}
	want := []struct {
		fn   string
		line int
	}{{"inner", 2}, {"outer", 6}, {"<main>", 9}}
	if len(frames) != len(want) {
		t.Fatalf("stack = %s, want %d frames", raw, len(want))
	}
	for i, w := range want {
		if frames[i].Function != w.fn || frames[i].Line != w.line || frames[i].Column < 1 {
			t.Errorf("frame %d = %+v, want %s at line %d", i, frames[i], w.fn, w.line)
		}
	}
	pos, _ := m["position"].(map[string]any)
	if pos == nil || pos["line"] != float64(2) || pos["column"] != float64(frames[0].Column) {
		t.Errorf("position %v does not match the innermost frame %+v", m["position"], frames[0])
	}

	// A top-level error has a one-frame stack; a syntax error has none.
	for _, c := range []struct {
		script string
		frames int
	}{{"x = 1 / 0\n", 1}, {"x = (\n", 0}} {
		jb, _ := json.Marshal(map[string]any{"script": c.script})
		req := httptest.NewRequest(http.MethodPost, "/api/v1/execute", strings.NewReader(string(jb)))
		req.Header.Set("Content-Type", "application/json")
		_, m := do(t, srv, req)
		st, _ := m["stack"].([]any)
		if _, present := m["stack"]; len(st) != c.frames || (c.frames == 0 && present) {
			t.Errorf("%q: stack %v, want %d frames", c.script, m["stack"], c.frames)
		}
	}
}
