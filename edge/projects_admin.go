package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
)

// Project management: GET /api/v1/projects (list), GET and DELETE
// /api/v1/projects/{name}. Lists and details come from the edge's mirror
// of bus.ProjectsBucket, like the routes it serves; a deletion removes the
// key, and every edge drops the routes through its watcher, as on a
// redeployment. The guard gates them like the deployment (capability
// "projects" with API keys); a deletion is audited like the other admin
// actions.

// projectSummary is one project of GET /api/v1/projects.
type projectSummary struct {
	Name       string    `json:"name"`
	Revision   uint64    `json:"revision"` // bucket revision of the deployment
	Hash       string    `json:"hash"`     // sha256 of the joined source, hex
	DeployedAt time.Time `json:"deployed_at"`
	Routes     int       `json:"routes"`
}

// projectDetail is GET /api/v1/projects/{name}.
type projectDetail struct {
	projectSummary
	Files     []string         `json:"files"`
	Endpoints []projectRouteV1 `json:"endpoints"`
}

type projectRouteV1 struct {
	Method      string   `json:"method"`
	Path        string   `json:"path"`
	Params      []string `json:"params"` // path parameters, in path order
	Handler     string   `json:"handler"`
	Middleware  []string `json:"middleware"`
	Description string   `json:"description,omitempty"`
	Output      string   `json:"output,omitempty"`
}

func (ent *projectEntry) summary() projectSummary {
	h := sha256.Sum256([]byte(ent.rec.Source))
	return projectSummary{Name: ent.rec.Name, Revision: ent.rev, Hash: hex.EncodeToString(h[:]),
		DeployedAt: ent.rec.Deployed, Routes: len(ent.rec.Routes)}
}

// mountProjectsAdmin installs the management routes.
func (p *projectsAPI) mountProjectsAdmin(api fiber.Router) {
	api.Get("/projects", p.handleList)
	api.Get("/projects/:name", p.handleGet)
	api.Delete("/projects/:name", p.handleDelete)
}

// handleList serves GET /api/v1/projects: {"projects": [...]} by name.
func (p *projectsAPI) handleList(c *fiber.Ctx) error {
	if err := p.ensure(c.UserContext()); err != nil {
		return p.x.sendError(c, nil, bus.CodeNotAvailable, "projects unavailable: "+err.Error())
	}
	p.mu.RLock()
	out := make([]projectSummary, 0, len(p.byName))
	for _, ent := range p.byName {
		out = append(out, ent.summary())
	}
	p.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	b, _ := json.Marshal(map[string]any{"projects": out})
	return writeJSON(c, fiber.StatusOK, "", b)
}

// handleGet serves GET /api/v1/projects/{name}: the project and its routes.
func (p *projectsAPI) handleGet(c *fiber.Ctx) error {
	if err := p.ensure(c.UserContext()); err != nil {
		return p.x.sendError(c, nil, bus.CodeNotAvailable, "projects unavailable: "+err.Error())
	}
	name := c.Params("name")
	ent := p.lookup(name)
	if ent == nil {
		return p.x.sendError(c, nil, bus.CodeNotFound, fmt.Sprintf("project %q not found", name))
	}
	d := projectDetail{projectSummary: ent.summary(), Files: ent.rec.Order, Endpoints: []projectRouteV1{}}
	if d.Files == nil {
		d.Files = []string{}
	}
	for _, r := range ent.rec.Routes {
		pat, _ := bus.ParseRoutePath(r.Path) // checked when the entry was built
		params := pat.Params()
		if params == nil {
			params = []string{}
		}
		mw := r.Middleware
		if mw == nil {
			mw = []string{}
		}
		d.Endpoints = append(d.Endpoints, projectRouteV1{Method: r.Method, Path: r.Path, Params: params, Handler: r.Handler,
			Middleware: mw, Description: r.Description, Output: r.Output})
	}
	b, _ := json.Marshal(d)
	return writeJSON(c, fiber.StatusOK, "", b)
}

// handleDelete serves DELETE /api/v1/projects/{name}: it deletes the
// revision this edge serves (409 when a newer deployment raced it) and
// answers once this edge stopped serving the project; the other edges
// follow through their watchers.
func (p *projectsAPI) handleDelete(c *fiber.Ctx) error {
	x := p.x
	if err := p.ensure(c.UserContext()); err != nil {
		return x.sendError(c, nil, bus.CodeNotAvailable, "projects unavailable: "+err.Error())
	}
	name := c.Params("name")
	ent := p.lookup(name)
	if ent == nil {
		return x.sendError(c, nil, bus.CodeNotFound, fmt.Sprintf("project %q not found", name))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), deployTimeout)
	defer cancel()
	err := p.deleteRevision(ctx, name, ent.rev)
	p.audit(c, "project.delete", name, err)
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return x.sendError(c, nil, bus.CodeConflict, fmt.Sprintf("project %q was redeployed meanwhile; fetch it again and retry", name))
	case err != nil:
		return x.sendError(c, nil, bus.CodeNotAvailable, "delete project: "+err.Error())
	}
	p.waitGone(ctx, name, ent.rev)
	b, _ := json.Marshal(map[string]any{"name": name, "deleted": true, "revision": ent.rev})
	return writeJSON(c, fiber.StatusOK, "", b)
}

// deleteRevision deletes key name of the bucket if its last revision is
// still rev.
func (p *projectsAPI) deleteRevision(ctx context.Context, name string, rev uint64) error {
	if p.x.nc == nil {
		return errors.New("no mesh connection")
	}
	js, err := jetstream.New(p.x.nc)
	if err != nil {
		return err
	}
	kv, err := bus.OpenProjects(ctx, js)
	if err != nil {
		return err
	}
	err = kv.Delete(ctx, name, jetstream.LastRevision(rev))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return jetstream.ErrKeyExists
	}
	return err
}

// waitGone waits until this edge no longer serves revision rev of name.
func (p *projectsAPI) waitGone(ctx context.Context, name string, rev uint64) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if ent := p.lookup(name); ent == nil || ent.rev != rev {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// audit records an administrative action on projects (the sink, node id
// and client id of the admin actions of jobs.go).
func (p *projectsAPI) audit(c *fiber.Ctx, action, target string, err error) {
	o := p.x.s.opts.Jobs
	if o.Audit == nil {
		return
	}
	ev := bus.AuditEvent{Kind: bus.AuditAdmin, Action: action, Target: target, RequestID: RequestID(c),
		NodeID: o.NodeID, Outcome: "ok", Status: fiber.StatusOK}
	if o.ClientID != nil {
		ev.ClientID = o.ClientID(c)
	}
	if err != nil {
		ev.Outcome, ev.Detail, ev.Status = bus.OutcomeError, strings.TrimSpace(err.Error()), 0
	}
	o.Audit.Emit(ev)
}
