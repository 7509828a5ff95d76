package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/edge/console"
)

// newEdge builds an edge (no mesh) with the console mounted at path, or
// without it when path is "-".
func newEdge(t testing.TB, path string) *edge.Server {
	t.Helper()
	var routes []func(fiber.Router)
	if path != "-" {
		routes = append(routes, func(r fiber.Router) {
			if err := console.Mount(r, console.Options{Path: path}); err != nil {
				t.Fatal(err)
			}
		})
	}
	s, err := edge.New(edge.Options{Addr: "127.0.0.1:0", Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fetch(t *testing.T, s *edge.Server, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestAssetsServed(t *testing.T) {
	s := newEdge(t, "")
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<base href="/">`},
		{"/assets/console.js", "text/javascript; charset=utf-8", `"use strict"`},
		{"/assets/console.css", "text/css; charset=utf-8", ":root"},
		{"/assets/favicon.svg", "image/svg+xml", "<svg"},
		{"/assets/examples/index.json", "application/json", `"file": "01_addvar_literals.avap"`},
		{"/assets/examples/01_addvar_literals.avap", "text/plain; charset=utf-8", "addVar(greeting"},
	} {
		resp, body := fetch(t, s, c.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(body, c.contains) {
			t.Errorf("%s: %d %q, body has %q: %v", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.contains, strings.Contains(body, c.contains))
			continue
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != console.CSP {
			t.Errorf("%s: CSP %q", c.path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: edge security headers missing: %v", c.path, resp.Header)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", c.path)
			continue
		}
		if resp, _ := fetch(t, s, c.path, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation answered %d", c.path, resp.StatusCode)
		}
	}
	// The CSP allows no inline code: the page must not hold any.
	_, page := fetch(t, s, "/")
	for _, bad := range []string{"<script>", " style=", " onclick=", "javascript:", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, p := range []string{"/assets/nope.js", "/assets/", "/assets/../console.go", "/assets/examples/../../console.go"} {
		if resp, _ := fetch(t, s, p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	// The API keeps its own strict CSP.
	if resp, _ := fetch(t, s, "/api/v1/info"); resp.Header.Get("Content-Security-Policy") == console.CSP {
		t.Error("API responses carry the console's CSP")
	}
}

func TestConsolePathAndDisabled(t *testing.T) {
	s := newEdge(t, "/console")
	for _, p := range []string{"/console", "/console/"} {
		resp, body := fetch(t, s, p)
		if resp.StatusCode != 200 || !strings.Contains(body, `<base href="/console/">`) {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := fetch(t, s, "/console/assets/console.js"); resp.StatusCode != 200 {
		t.Errorf("asset under /console: %d", resp.StatusCode)
	}
	if resp, _ := fetch(t, s, "/"); resp.StatusCode != 404 {
		t.Errorf("/ with the console at /console: %d", resp.StatusCode)
	}
	off := newEdge(t, "-")
	for _, p := range []string{"/", "/assets/console.js"} {
		if resp, _ := fetch(t, off, p); resp.StatusCode != 404 {
			t.Errorf("disabled console %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/console": "/console/", "/ui/console/": "/ui/console/"} {
		if got, err := console.NormalizePath(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"console", "/api/v1/", "/api/", "/a/../b", "/a b", "/a?x", "/x", "/debug/pprof", "//"} {
		if _, err := console.NormalizePath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := console.Mount(fiber.New(), console.Options{Path: "nope"}); err == nil {
		t.Error("Mount accepted a bad path")
	}
}
