package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
)

// DefaultProjectPrefix is where deployed projects are served: a route
// registered as "/hello" by project "shop" answers at /x/shop/hello.
const DefaultProjectPrefix = "/x"

// deployTimeout bounds a deployment round trip (compile and store).
const deployTimeout = 15 * time.Second

// projectsAPI deploys projects (POST /api/v1/projects), serves their
// OpenAPI documents and their routes under the prefix. Its route table
// follows the JetStream KV bucket bus.ProjectsBucket through a watcher, so
// a redeployment on any edge replaces the routes on every edge.
type projectsAPI struct {
	x      *executeAPI
	prefix string

	mirror *kvMirror // follows bus.ProjectsBucket

	mu     sync.RWMutex // guards byName and rev
	byName map[string]*projectEntry
	rev    uint64 // highest bucket revision applied
}

// projectEntry is one deployed project as the edge serves it.
type projectEntry struct {
	rec      bus.Project
	rev      uint64
	static   map[string]*routePath // routes without path parameters, by path
	patterns []*routePath          // routes with path parameters, most specific first
	openapi  []byte
}

// routePath is one registered path and its routes by method.
type routePath struct {
	pat     bus.RoutePattern
	methods map[string]*routeEntry
}

type routeEntry struct {
	route  bus.Route
	script string // bus.EndpointScript, built once per revision
}

// mountProjects installs the project routes.
func (s *Server) mountProjects(api fiber.Router, x *executeAPI) {
	prefix := strings.TrimRight(x.opts.ProjectPrefix, "/")
	if prefix == "" {
		prefix = DefaultProjectPrefix
	}
	p := &projectsAPI{x: x, prefix: prefix, byName: map[string]*projectEntry{}}
	p.mirror = newKVMirror(x.nc, bus.ProjectsBucket, bus.OpenProjects, func(e jetstream.KeyValueEntry) { p.apply(e, s.log.Warn) })
	s.onShutdown(p.shutdown)
	api.Post("/projects", p.handleDeploy)
	api.Get("/projects/:name/openapi.json", p.handleOpenAPI)
	p.mountProjectsAdmin(api) // projects_admin.go
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete} {
		s.app.Add(m, prefix+"/:project/*", p.handleRequest)
	}
}

// ensure starts the bucket watcher once and waits for its initial values.
func (p *projectsAPI) ensure(ctx context.Context) error { return p.mirror.ensure(ctx) }

func (p *projectsAPI) shutdown() { p.mirror.close() }

// apply installs or removes the project of one bucket entry.
func (p *projectsAPI) apply(e jetstream.KeyValueEntry, warn func(string, ...any)) {
	name, rev := e.Key(), e.Revision()
	var ent *projectEntry
	if e.Operation() == jetstream.KeyValuePut {
		var err error
		if ent, err = p.newEntry(e.Value(), rev); err != nil {
			warn("project record ignored", "project", name, "err", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.byName[name]; cur == nil || cur.rev < rev {
		if ent != nil {
			p.byName[name] = ent
		} else if e.Operation() != jetstream.KeyValuePut {
			delete(p.byName, name)
		}
	}
	p.rev = max(p.rev, rev)
}

func (p *projectsAPI) newEntry(b []byte, rev uint64) (*projectEntry, error) {
	ent := &projectEntry{rev: rev, static: map[string]*routePath{}}
	if err := json.Unmarshal(b, &ent.rec); err != nil {
		return nil, err
	}
	byPath := map[string]*routePath{}
	for i := range ent.rec.Routes {
		r := &ent.rec.Routes[i]
		rp := byPath[r.Path]
		if rp == nil {
			pat, err := bus.ParseRoutePath(r.Path)
			if err != nil {
				return nil, err
			}
			rp = &routePath{pat: pat, methods: map[string]*routeEntry{}}
			byPath[r.Path] = rp
			if pat.Static() {
				ent.static[r.Path] = rp
			} else {
				ent.patterns = append(ent.patterns, rp)
			}
		}
		rp.methods[r.Method] = &routeEntry{route: *r, script: bus.EndpointScript(ent.rec.Source, r)}
	}
	sort.SliceStable(ent.patterns, func(i, j int) bool { return ent.patterns[i].pat.MoreSpecific(ent.patterns[j].pat) })
	ent.openapi = projectOpenAPI(&ent.rec, rev, p.prefix)
	return ent, nil
}

// match finds the route of a request: among the registered paths that
// match (literal paths first, then patterns, a literal segment winning
// over a parameter, leftmost first) the first that has the method. With
// none, allow lists the methods of the matching paths (405), or is empty
// (404).
func (ent *projectEntry) match(path, method string) (r *routeEntry, params []bus.Param, allow []string, err error) {
	add := func(rp *routePath) {
		for m := range rp.methods {
			if !slices.Contains(allow, m) {
				allow = append(allow, m)
			}
		}
	}
	if rp := ent.static[path]; rp != nil {
		if r = rp.methods[method]; r != nil {
			return r, nil, nil, nil
		}
		add(rp)
	}
	for _, rp := range ent.patterns {
		ps, ok, err := rp.pat.Match(path)
		if err != nil {
			return nil, nil, nil, err
		}
		if !ok {
			continue
		}
		if r = rp.methods[method]; r != nil {
			return r, ps, nil, nil
		}
		add(rp)
	}
	sort.Strings(allow)
	return nil, nil, allow, nil
}

func (p *projectsAPI) lookup(name string) *projectEntry {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.byName[name]
}

// waitRevision waits until the watcher applied rev (read-your-writes for
// the edge that deployed).
func (p *projectsAPI) waitRevision(ctx context.Context, rev uint64) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		p.mu.RLock()
		done := p.rev >= rev
		p.mu.RUnlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deployUpload is the JSON form of POST /api/v1/projects.
type deployUpload struct {
	Name  string            `json:"name"`
	Files map[string]string `json:"files"`
}

// handleDeploy serves POST /api/v1/projects: a JSON body
// {"name": "shop", "files": {"main.avap": "..."}} or a multipart body with
// a "name" field and one or more .avap file parts (their file names are
// the paths). An executor compiles the project and stores it; the answer
// lists its routes.
func (p *projectsAPI) handleDeploy(c *fiber.Ctx) error {
	x := p.x
	var up deployUpload
	ct := strings.ToLower(string(c.Request().Header.ContentType()))
	switch {
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		form, err := c.MultipartForm()
		if err != nil {
			return x.sendError(c, nil, bus.CodeBadRequest, "bad multipart body: "+err.Error())
		}
		if v := form.Value["name"]; len(v) == 1 {
			up.Name = v[0]
		}
		up.Files = map[string]string{}
		for _, fhs := range form.File {
			for _, fh := range fhs {
				f, err := fh.Open()
				if err != nil {
					return x.sendError(c, nil, bus.CodeBadRequest, "read file: "+err.Error())
				}
				b, err := io.ReadAll(io.LimitReader(f, int64(x.s.opts.BodyLimit)+1))
				_ = f.Close()
				if err != nil {
					return x.sendError(c, nil, bus.CodeBadRequest, "read file: "+err.Error())
				}
				if _, dup := up.Files[fh.Filename]; dup {
					return x.sendError(c, nil, bus.CodeBadRequest, fmt.Sprintf("file %q uploaded twice", fh.Filename))
				}
				up.Files[fh.Filename] = string(b)
			}
		}
	case isJSON([]byte(ct)):
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&up); err != nil {
			return x.sendError(c, nil, bus.CodeBadRequest, "request body must be {\"name\": ..., \"files\": {path: source}}: "+err.Error())
		}
	default:
		return x.sendError(c, nil, bus.CodeUnsupportedMedia, "content type must be application/json or multipart/form-data")
	}
	if err := bus.ValidProjectName(up.Name); err != nil {
		return x.sendError(c, nil, bus.CodeBadRequest, err.Error()+" (want 1-64 of a-z, 0-9, '-', '_')")
	}
	if len(up.Files) == 0 {
		return x.sendError(c, nil, bus.CodeBadRequest, "the upload holds no .avap file")
	}
	if x.nc == nil {
		return x.sendError(c, nil, bus.CodeNoExecutor, "no mesh connection")
	}
	body, _ := json.Marshal(map[string]any{"files": up.Files})
	st := x.getState()
	defer x.putState(st)
	st.req.ID = RequestID(c)
	st.req.Name = up.Name
	st.req.Body = body
	ctx, cancel := context.WithTimeout(c.UserContext(), deployTimeout)
	defer cancel()
	if err := bus.Call(ctx, x.nc, bus.ProjectDeploySubject, &st.req, &st.rep, st.enc); err != nil {
		var be *bus.Error
		if !errors.As(err, &be) {
			be = bus.NewError(bus.CodeInternal, err.Error())
		}
		fillError(&st.rep, be.Code, be.Description)
	}
	var auditErr error
	if !st.rep.Success {
		auditErr = errors.New(st.rep.Error)
	}
	p.audit(c, "project.deploy", up.Name, auditErr)
	if st.rep.Success {
		var res struct {
			Revision uint64 `json:"revision"`
		}
		if json.Unmarshal(st.rep.Result, &res) == nil && p.ensure(ctx) == nil {
			p.waitRevision(ctx, res.Revision)
		}
	}
	return x.send(c, st)
}

// handleOpenAPI serves GET /api/v1/projects/{name}/openapi.json.
func (p *projectsAPI) handleOpenAPI(c *fiber.Ctx) error {
	if err := p.ensure(c.UserContext()); err != nil {
		return p.x.sendError(c, nil, bus.CodeNotAvailable, "projects unavailable: "+err.Error())
	}
	ent := p.lookup(c.Params("name"))
	if ent == nil {
		return p.x.sendError(c, nil, bus.CodeNotFound, fmt.Sprintf("project %q not found", c.Params("name")))
	}
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return c.Send(ent.openapi)
}

// handleRequest serves <prefix>/<project>/<path>: the route's method must
// match (405 otherwise, with Allow), then the project's top-level code,
// the middleware and the handler run on an executor. The response is the
// execution envelope without variables; when the handler used no
// addResult, the result is {output: value} where value is the global
// named output, or else the handler's return value.
func (p *projectsAPI) handleRequest(c *fiber.Ctx) error {
	x := p.x
	if err := p.ensure(c.UserContext()); err != nil {
		return x.sendError(c, nil, bus.CodeNotAvailable, "projects unavailable: "+err.Error())
	}
	ent := p.lookup(c.Params("project"))
	path := "/" + c.Params("*")
	if ent == nil {
		return x.sendError(c, nil, bus.CodeNotFound, fmt.Sprintf("project %q not found", c.Params("project")))
	}
	r, params, allow, err := ent.match(path, c.Method())
	switch {
	case err != nil:
		return x.sendError(c, nil, bus.CodeBadRequest, err.Error())
	case r == nil && len(allow) == 0:
		return x.sendError(c, nil, bus.CodeNotFound, "no endpoint "+path)
	case r == nil:
		c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		return x.sendError(c, nil, bus.CodeMethodNotAllowed, fmt.Sprintf("method %s not allowed for %s (allowed: %s)", c.Method(), path, strings.Join(allow, ", ")))
	}
	st := x.getState()
	defer x.putState(st)
	// Path parameters travel apart from the query string: addParam looks
	// at them first (the route defines them, a client cannot shadow them
	// with ?id=), and getQueryParamList lists only the query string.
	st.req.Path = params
	x.readQuery(c, st)
	if err := readEndpointBody(c, st); err != nil {
		return x.sendError(c, st, bus.CodeBadRequest, err.Error())
	}
	st.req.ID = RequestID(c)
	st.req.Lane = bus.LaneInteractive
	st.req.Name = ent.rec.Name + ".avap"
	st.req.Script = r.script
	st.req.Variables = json.RawMessage(bus.EndpointVariables)
	x.exec(c.UserContext(), st)
	if st.rep.Success {
		endpointOutput(&st.rep, r.route.Output)
	}
	st.rep.Variables = nil
	return x.send(c, st)
}

// readEndpointBody maps the body of a request to a deployed endpoint: a
// JSON object is the body (addParam source 3, its "params" member source
// 2); form fields (urlencoded or multipart) are source 4.
func readEndpointBody(c *fiber.Ctx, st *execState) error {
	body := c.Body()
	ct := c.Request().Header.ContentType()
	lct := strings.ToLower(string(ct))
	switch {
	case strings.HasPrefix(lct, fiber.MIMEApplicationForm):
		c.Request().PostArgs().VisitAll(func(k, v []byte) {
			st.form = append(st.form, bus.Param{Name: b2s(k), Value: b2s(v)})
		})
		st.req.Form = st.form
	case strings.HasPrefix(lct, fiber.MIMEMultipartForm):
		form, err := c.MultipartForm()
		if err != nil {
			return errors.New("bad multipart body: " + err.Error())
		}
		names := make([]string, 0, len(form.Value))
		for k := range form.Value {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range form.Value[k] {
				st.form = append(st.form, bus.Param{Name: k, Value: v})
			}
		}
		st.req.Form = st.form
	case len(bytes.TrimSpace(body)) == 0:
	case isJSON(ct) || acceptsJSON(ct, body):
		if b := bytes.TrimSpace(body); b[0] != '{' {
			return errors.New("request body must be a JSON object")
		}
		err := scanObject(body, func(k, v []byte) error {
			if b2s(k) == "params" {
				return objectMember(&st.req.Params, v, "params")
			}
			return nil
		})
		if err != nil {
			return bodyError(err)
		}
		st.req.Body = body
	}
	return nil
}

// endpointOutput applies the output variable of registerEndpoint.
func endpointOutput(rep *bus.Reply, output string) {
	if output == "" || len(bytes.TrimSpace(rep.Result)) > 2 {
		return // no output variable, or addResult was used
	}
	var vars map[string]json.RawMessage
	_ = json.Unmarshal(rep.Variables, &vars)
	v, ok := vars[output]
	if !ok || string(v) == "null" {
		if r, ok := vars[bus.EndpointReturn]; ok {
			v = r
		}
	}
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	out, _ := json.Marshal(map[string]json.RawMessage{output: v})
	rep.Result = out
}

// projectOpenAPI generates the OpenAPI 3 document of a project from its
// registrations.
func projectOpenAPI(p *bus.Project, rev uint64, prefix string) []byte {
	envelope := map[string]any{"type": "object", "properties": map[string]any{
		"success":    map[string]any{"type": "boolean"},
		"result":     map[string]any{"type": "object"},
		"error":      map[string]any{"type": "string"},
		"code":       map[string]any{"type": "string"},
		"request_id": map[string]any{"type": "string"},
	}}
	resp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Envelope"}}}}
	}
	paths := map[string]any{}
	for _, r := range p.Routes {
		item, _ := paths[r.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.Path] = item
		}
		op := map[string]any{
			"operationId": r.Handler + "_" + strings.ToLower(r.Method),
			"summary":     r.Description,
			"responses": map[string]any{
				"200": resp("success envelope; result holds the addResult values (or the output variable)"),
				"400": resp("the script failed"),
				"405": resp("method not allowed"),
				"504": resp("time limit exceeded"),
			},
		}
		if len(r.Middleware) > 0 {
			op["x-avap-middleware"] = r.Middleware
		}
		if r.Output != "" {
			op["x-avap-output"] = r.Output
		}
		if ps := routeParams(r.Path); len(ps) > 0 {
			item["parameters"] = ps
			op["responses"].(map[string]any)["404"] = resp("no route matches the path")
		}
		item[strings.ToLower(r.Method)] = op
	}
	doc := map[string]any{
		"openapi":    "3.0.3",
		"info":       map[string]any{"title": p.Name, "version": fmt.Sprintf("revision %d", rev)},
		"servers":    []any{map[string]any{"url": prefix + "/" + url.PathEscape(p.Name)}},
		"paths":      paths,
		"components": map[string]any{"schemas": map[string]any{"Envelope": envelope}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

// routeParams declares the path parameters of a route for OpenAPI.
func routeParams(path string) []any {
	pat, err := bus.ParseRoutePath(path)
	if err != nil {
		return nil
	}
	var out []any
	for _, name := range pat.Params() {
		out = append(out, map[string]any{"name": name, "in": "path", "required": true,
			"description": "path parameter; addParam(" + name + ", v) reads it before the query string",
			"schema":      map[string]any{"type": "string"}})
	}
	return out
}
