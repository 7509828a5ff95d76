// Package console serves the web console of the edge: a playground that
// writes, checks and runs AVAP scripts through the public HTTP API, and a
// mesh view of the edges, executors and durable work.
//
// Every asset is embedded in the binary (plain HTML, CSS and JavaScript, no
// build step) and the pages make no request outside the edge's origin. The
// console adds only GET routes under its path, so the API's hot path does
// not see it. Its pages carry their own Content-Security-Policy: scripts,
// styles and connections from the same origin only, no inline code.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// DefaultPath is where the console answers when Options.Path is empty.
const DefaultPath = "/"

// CSP is the Content-Security-Policy of every console response. It allows
// what the pages use and nothing else: same-origin scripts, styles, images
// (and data: images for SVG icons) and fetches to the API.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets
var assets embed.FS

// Options configure Mount.
type Options struct {
	// Path is the console's URL path: the page is served at Path and its
	// assets under Path + "assets/". "" = DefaultPath. It must start with
	// "/" and must not be under /api/.
	Path string
}

// file is one prepared asset.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Mount installs the console's GET routes on r (the app root). It reads
// and prepares every asset once, so serving costs a map lookup.
func Mount(r fiber.Router, opts Options) error {
	base, err := NormalizePath(opts.Path)
	if err != nil {
		return err
	}
	files, err := load(base)
	if err != nil {
		return err
	}
	index := files["index.html"]
	serveIndex := func(c *fiber.Ctx) error { return send(c, index) }
	r.Get(base, serveIndex)
	if base != "/" {
		r.Get(strings.TrimSuffix(base, "/"), serveIndex)
	}
	r.Get(base+"assets/*", func(c *fiber.Ctx) error {
		f, ok := files[c.Params("*")]
		if !ok {
			return fiber.ErrNotFound
		}
		return send(c, f)
	})
	return nil
}

// NormalizePath checks a console path and returns it with one trailing
// slash.
func NormalizePath(p string) (string, error) {
	if p == "" {
		p = DefaultPath
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("console path %q must start with /", p)
	case strings.ContainsAny(p, "?#*:\\\"'<> \t\r\n"):
		return "", fmt.Errorf("console path %q has a character that is not allowed in a plain path", p)
	case strings.Contains(p, "//") || (p != "/" && path.Clean(strings.TrimSuffix(p, "/")) != strings.TrimSuffix(p, "/")):
		return "", fmt.Errorf("console path %q is not clean", p)
	}
	p = strings.TrimSuffix(p, "/") + "/"
	if strings.HasPrefix(p, "/api/") || p == "/x/" || strings.HasPrefix(p, "/debug/") {
		return "", fmt.Errorf("console path %q collides with the API", p)
	}
	return p, nil
}

// load reads the embedded assets. index.html gets the base path in its
// <base href>, so its relative asset URLs work under any path.
func load(base string) (map[string]*file, error) {
	files := map[string]*file{}
	err := fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(name, "assets/")
		if rel == "index.html" {
			body = bytes.ReplaceAll(body, []byte("{{BASE}}"), []byte(html.EscapeString(base)))
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		switch path.Ext(name) {
		case ".avap":
			ctype = "text/plain; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		files[rel] = &file{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if files["index.html"] == nil {
		return nil, errors.New("console: index.html is not embedded")
	}
	return files, nil
}

// send answers with f, or 304 when the client has it.
func send(c *fiber.Ctx, f *file) error {
	h := &c.Response().Header
	h.Set(fiber.HeaderContentSecurityPolicy, CSP)
	h.Set(fiber.HeaderCacheControl, "no-cache")
	h.Set(fiber.HeaderETag, f.etag)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if string(c.Request().Header.Peek(fiber.HeaderIfNoneMatch)) == f.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	h.SetContentType(f.ctype)
	return c.Send(f.body)
}
