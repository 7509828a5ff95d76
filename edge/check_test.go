package edge_test

import (
	"fmt"
	"testing"

	"github.com/avapmesh/avap/edge"
)

func TestCheckRoute(t *testing.T) {
	s := newServer(t, edge.Options{})
	resp, m := post(t, s, "/api/v1/check", "application/json", `{"script":"addVar(a, 1)\naddResult(a)"}`)
	if resp.StatusCode != 200 || m["success"] != true || fmt.Sprint(m["errors"]) != "[]" {
		t.Errorf("valid script: %d %v", resp.StatusCode, m)
	}
	resp, m = post(t, s, "/api/v1/check", "application/json", `{"script":"addVar(a, 1)\naddResult(a\naddVar(b, 2)"}`)
	pos, _ := m["position"].(map[string]any)
	errs, _ := m["errors"].([]any)
	if resp.StatusCode != 400 || m["code"] != "AVAP_SYNTAX" || pos["line"] != 2.0 || len(errs) == 0 || m["request_id"] == "" {
		t.Errorf("syntax error: %d %v", resp.StatusCode, m)
	}
	for _, c := range []struct{ ctype, body string }{
		{"application/json", `{"script": 3}`},
		{"application/json", `{"nope": "x"}`},
		{"application/json", `{"script": "a"`},
		{"application/json", `{"script": "a"} {}`},
		{"application/json", ``},
	} {
		resp, m = post(t, s, "/api/v1/check", c.ctype, c.body)
		if resp.StatusCode != 400 || m["code"] != "AVAP_BAD_REQUEST" {
			t.Errorf("%q: %d %v", c.body, resp.StatusCode, m)
		}
	}
	resp, m = post(t, s, "/api/v1/check", "text/plain", `{"script":"a"}`)
	if resp.StatusCode != 415 {
		t.Errorf("text/plain: %d %v", resp.StatusCode, m)
	}
}
