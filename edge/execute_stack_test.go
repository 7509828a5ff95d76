package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/nats/natstest"
)

// corpusDir is the shared conformance corpus (outside the module).
const corpusDir = "../../shared/avap/corpus"

// stack starts the full path edge -> NATS (in-process) -> executor -> VM.
func stack(t testing.TB, eo executor.Options) *edge.Server {
	t.Helper()
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	eo.Conn = nc
	ex, err := executor.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Shutdown(context.Background()) })
	srv, err := edge.New(edge.Options{Addr: "127.0.0.1:0", Conn: nc, InfoExtra: edge.MeshInfo(nc, 100*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

type corpusCase struct {
	Case    string
	Request struct {
		Method string
		Query  orderedQuery
		Body   json.RawMessage
	}
	Expected struct {
		StatusCode     int               `json:"status_code"`
		Success        bool              `json:"success"`
		Result         map[string]any    `json:"result"`
		ResultPatterns map[string]string `json:"result_patterns"`
		ErrorContains  *string           `json:"error_contains"`
	}
}

// orderedQuery keeps the order of the query object's keys.
type orderedQuery []string

func (q *orderedQuery) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		k, _ := dec.Token()
		var v string
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*q = append(*q, url.QueryEscape(k.(string))+"="+url.QueryEscape(v))
	}
	return nil
}

// TestCorpusOverHTTP runs every corpus case (but 40, endpoint
// registration) through POST /api/v1/execute on the full stack: query as
// the query string, body as `params`.
func TestCorpusOverHTTP(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.expected.json"))
	if len(files) == 0 {
		t.Skip("corpus not found at " + corpusDir)
	}
	srv := stack(t, executor.Options{})
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".expected.json")
		if strings.HasPrefix(name, "40_") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var cc corpusCase
			b, _ := os.ReadFile(f)
			if err := json.Unmarshal(b, &cc); err != nil {
				t.Fatal(err)
			}
			src, _ := os.ReadFile(strings.TrimSuffix(f, ".expected.json") + ".avap")
			body := map[string]any{"script": string(src)}
			if len(cc.Request.Body) > 0 && string(cc.Request.Body) != "null" {
				body["params"] = cc.Request.Body
			}
			if strings.HasPrefix(name, "39_") {
				body["limits"] = map[string]any{"timeout_ms": 1000}
			}
			jb, _ := json.Marshal(body)
			req := httptest.NewRequest(http.MethodPost, "/api/v1/execute?"+strings.Join(cc.Request.Query, "&"), strings.NewReader(string(jb)))
			req.Header.Set("Content-Type", "application/json")
			resp, m := do(t, srv, req)
			e := cc.Expected
			if resp.StatusCode != e.StatusCode || m["success"] != e.Success {
				t.Fatalf("status %d success %v, want %d %v: %v", resp.StatusCode, m["success"], e.StatusCode, e.Success, m)
			}
			if !e.Success {
				if e.ErrorContains != nil && !strings.Contains(strings.ToLower(fmt.Sprint(m["error"])), strings.ToLower(*e.ErrorContains)) {
					t.Errorf("error %q does not contain %q", m["error"], *e.ErrorContains)
				}
				return
			}
			got, _ := m["result"].(map[string]any)
			if len(got) != len(e.Result)+len(e.ResultPatterns) {
				t.Errorf("result keys %v, want %v + %v", got, e.Result, e.ResultPatterns)
			}
			for k, want := range e.Result {
				if !sameJSON(got[k], want) {
					t.Errorf("result[%s] = %v, want %v", k, got[k], want)
				}
			}
			for k, pat := range e.ResultPatterns {
				v := got[k]
				text := fmt.Sprint(v)
				if _, ok := v.(string); !ok {
					jb, _ := json.Marshal(v)
					text = string(jb)
				}
				if !regexp.MustCompile("^(?:" + pat + ")$").MatchString(text) {
					t.Errorf("result[%s] = %q does not match %s", k, text, pat)
				}
			}
		})
	}
}

// sameJSON compares decoded JSON values, numbers by value.
func sameJSON(a, b any) bool {
	switch av := a.(type) {
	case float64:
		bv, ok := b.(float64)
		return ok && av == bv
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k := range av {
			if !sameJSON(av[k], bv[k]) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !sameJSON(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestStackCompileInfoBatch: compile then run by name, batch through the
// real executor, and /api/v1/info listing the executor with its stats.
func TestStackCompileInfoBatch(t *testing.T) {
	srv := stack(t, executor.Options{Commands: executor.NewMemoryCommands()})
	resp, m := post(t, srv, "/api/v1/compile", "application/json", `{"name":"greet","script":"addParam(who, w)\naddVar(msg, w)\naddResult(msg)"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("compile: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, srv, "/api/v1/execute?who=ann", "application/json", `{"command":"greet"}`)
	if resp.StatusCode != 200 || fmt.Sprint(m["result"]) != "map[msg:ann]" {
		t.Fatalf("run compiled: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, srv, "/api/v1/execute", "application/json", `{"command":"nope"}`)
	if resp.StatusCode != 404 || m["code"] != "AVAP_NOT_FOUND" {
		t.Errorf("unknown command name: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, srv, "/api/v1/execute/batch", "application/json",
		`{"items":[{"script":"addVar(a, 1)\naddResult(a)"},{"script":"doesNotExist(a)"},{"command":"greet","params":{"who":"bo"}}]}`)
	items, _ := m["items"].([]any)
	if resp.StatusCode != 200 || len(items) != 3 ||
		items[0].(map[string]any)["status"] != 200.0 || items[1].(map[string]any)["code"] != "AVAP_UNKNOWN_COMMAND" ||
		fmt.Sprint(items[2].(map[string]any)["result"]) != "map[msg:bo]" {
		t.Errorf("batch: %d %v", resp.StatusCode, m)
	}
	_, info := get(t, srv, "/api/v1/info")
	ex, _ := info["mesh"].(map[string]any)["executors"].([]any)
	if len(ex) != 1 || ex[0].(map[string]any)["stats"].(map[string]any)["runs"].(float64) < 3 {
		t.Errorf("info mesh: %v", info["mesh"])
	}
}
