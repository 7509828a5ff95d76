package edge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/avapmesh/avap/edge"
)

// TestSetAdminToken: a rotated admin token (config reload) is in effect at
// once: /debug/vars takes the new token and refuses the old one, also
// while requests are served concurrently (-race); "" falls back to
// loopback clients only.
func TestSetAdminToken(t *testing.T) {
	const oldTok, newTok = "old-admin-token-0123456789", "new-admin-token-9876543210"
	s := newServer(t, edge.Options{
		AdminToken: oldTok,
		Debug:      map[string]edge.DebugFunc{"x": func(context.Context) any { return 1 }},
	})
	try := func(tok string) (int, error) {
		req := httptest.NewRequest(http.MethodGet, edge.DebugVarsPath, nil) // RemoteAddr 192.0.2.1: not loopback
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := s.App().Test(req, -1)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	status := func(tok string) int {
		t.Helper()
		code, err := try(tok)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	if got := [3]int{status(oldTok), status(newTok), status("")}; got != [3]int{200, 401, 401} {
		t.Fatalf("before rotation: old, new, none = %v; want [200 401 401]", got)
	}

	var wg sync.WaitGroup
	wg.Go(func() { s.SetAdminToken(newTok) })
	wg.Go(func() { _, _ = try(oldTok) }) // races the swap; either answer is fine
	wg.Wait()
	if got := [3]int{status(oldTok), status(newTok), status("")}; got != [3]int{401, 200, 401} {
		t.Fatalf("after rotation: old, new, none = %v; want [401 200 401]", got)
	}

	s.SetAdminToken("")
	if got := status(newTok); got != http.StatusForbidden {
		t.Errorf("token cleared, remote client: %d, want 403 (loopback only)", got)
	}
}
