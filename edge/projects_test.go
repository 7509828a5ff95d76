package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/nats/natstest"
)

// projectStack starts NATS (JetStream), an executor with a Host and two
// edges on the same mesh; the first one listens on a real port.
func projectStack(t *testing.T) (base string, a, b *edge.Server) {
	t.Helper()
	return projectStackWith(t, edge.Options{})
}

// projectStackWith is projectStack with edge options (Addr and Conn are
// set here).
func projectStackWith(t *testing.T, o edge.Options) (base string, a, b *edge.Server) {
	t.Helper()
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	host, err := executor.NewHost(executor.HostOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Close)
	ex, err := executor.New(executor.Options{Conn: nc, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Shutdown(context.Background()) })
	for _, p := range []**edge.Server{&a, &b} {
		o.Addr, o.Conn = "127.0.0.1:0", nc
		srv, err := edge.New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		*p = srv
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return "http://" + a.Addr().String(), a, b
}

// call makes a real HTTP request and decodes the JSON answer.
func call(t *testing.T, method, url, ct string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %q is not JSON", method, url, b)
	}
	return resp, m
}

func deployJSON(t *testing.T, base, name string, files map[string]string) (*http.Response, map[string]any) {
	b, _ := json.Marshal(map[string]any{"name": name, "files": files})
	return call(t, http.MethodPost, base+"/api/v1/projects", "application/json", b)
}

const shopProject = `// two endpoints behind a middleware
function auth(){
  addParam(token, t)
  if(t, "secret", "!=")
    _status = 401
    addVar(err, "unauthorized")
    addResult(err)
  end()
}
function list_items(){
  items = ["a", "b"]
  return(items)
}
function create_item(){
  addParam(name, n)
  created = {"name": n}
  addResult(created)
  _status = 201
}
registerEndpoint("/items", "GET", [auth], "List items", list_items, items)
registerEndpoint("/items", "POST", [auth], "Create an item", create_item, created)
`

func TestProjectCorpus40(t *testing.T) {
	base, _, _ := projectStack(t)
	src, err := os.ReadFile(filepath.Join(corpusDir, "40_error_method_not_allowed.avap"))
	if err != nil {
		t.Skip("corpus not found")
	}
	var cc corpusCase
	b, _ := os.ReadFile(filepath.Join(corpusDir, "40_error_method_not_allowed.expected.json"))
	if err := json.Unmarshal(b, &cc); err != nil {
		t.Fatal(err)
	}
	resp, m := deployJSON(t, base, "c40", map[string]string{"main.avap": string(src)})
	if resp.StatusCode != 200 || m["success"] != true {
		t.Fatalf("deploy: %d %v", resp.StatusCode, m)
	}
	resp, m = call(t, cc.Request.Method, base+"/x/c40/hello", "", nil)
	if resp.StatusCode != cc.Expected.StatusCode || m["success"] != cc.Expected.Success || resp.Header.Get("Allow") != "GET" {
		t.Errorf("corpus 40: %d %v (Allow %q)", resp.StatusCode, m, resp.Header.Get("Allow"))
	}
	resp, m = call(t, http.MethodGet, base+"/x/c40/hello", "", nil)
	if resp.StatusCode != 200 || m["result"].(map[string]any)["msg"] != "hello" {
		t.Errorf("GET /hello: %d %v", resp.StatusCode, m)
	}
}

func TestProjectEndToEnd(t *testing.T) {
	base, _, other := projectStack(t)
	// Deploy as multipart.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("name", "shop")
	fw, _ := mw.CreateFormFile("file", "main.avap")
	_, _ = io.WriteString(fw, shopProject)
	_ = mw.Close()
	resp, m := call(t, http.MethodPost, base+"/api/v1/projects", mw.FormDataContentType(), buf.Bytes())
	if resp.StatusCode != 200 || m["success"] != true {
		t.Fatalf("deploy: %d %v", resp.StatusCode, m)
	}
	if routes := m["result"].(map[string]any)["routes"].([]any); len(routes) != 2 {
		t.Fatalf("routes = %v", routes)
	}
	cases := []struct {
		method, path, body string
		status             int
		result             string
	}{
		{"GET", "/x/shop/items?token=secret", "", 200, `{"items":["a","b"]}`},
		{"POST", "/x/shop/items?token=secret", `{"name":"pen"}`, 201, `{"created":{"name":"pen"}}`},
		{"GET", "/x/shop/items", "", 401, `{"err":"unauthorized"}`},
		{"POST", "/x/shop/items?token=nope", `{"name":"pen"}`, 401, `{"err":"unauthorized"}`},
		{"DELETE", "/x/shop/items?token=secret", "", 405, ""},
		{"GET", "/x/shop/nope", "", 404, ""},
		{"GET", "/x/nosuch/items", "", 404, ""},
	}
	for _, c := range cases {
		ct := ""
		if c.body != "" {
			ct = "application/json"
		}
		resp, m := call(t, c.method, base+c.path, ct, []byte(c.body))
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d: %v", c.method, c.path, resp.StatusCode, c.status, m)
			continue
		}
		if c.result != "" {
			got, _ := json.Marshal(m["result"])
			if string(got) != c.result {
				t.Errorf("%s %s: result %s, want %s", c.method, c.path, got, c.result)
			}
			if v, ok := m["variables"].(map[string]any); ok && len(v) > 0 {
				t.Errorf("%s %s: variables exposed: %v", c.method, c.path, v)
			}
		}
	}

	// The OpenAPI document comes from the registrations.
	resp, m = call(t, http.MethodGet, base+"/api/v1/projects/shop/openapi.json", "", nil)
	paths, _ := m["paths"].(map[string]any)
	items, _ := paths["/items"].(map[string]any)
	if resp.StatusCode != 200 || items["get"] == nil || items["post"] == nil || m["openapi"] != "3.0.3" {
		t.Errorf("openapi: %d %v", resp.StatusCode, m)
	}

	// A redeployment replaces the routes on every edge, without restart.
	mustGet := func(s *edge.Server) string {
		r, mm := do(t, s, httptest.NewRequest(http.MethodGet, "/x/shop/items?token=secret", nil))
		got, _ := json.Marshal(mm["result"])
		return r.Status + " " + string(got)
	}
	if got := mustGet(other); !strings.Contains(got, `["a","b"]`) {
		t.Fatalf("second edge before redeploy: %s", got)
	}
	resp, m = deployJSON(t, base, "shop", map[string]string{"main.avap": strings.Replace(shopProject, `["a", "b"]`, `["c"]`, 1)})
	if resp.StatusCode != 200 {
		t.Fatalf("redeploy: %v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(mustGet(other), `["c"]`) {
		if time.Now().After(deadline) {
			t.Fatalf("second edge still serves the old routes: %s", mustGet(other))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProjectDeployErrors(t *testing.T) {
	base, _, _ := projectStack(t)
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"Bad_Name", map[string]string{"a.avap": "x = 1\n"}, "invalid project name"},
		{"p", map[string]string{}, "no .avap file"},
		{"p", map[string]string{"a.avap": "x = 1\n"}, "registers no endpoint"},
		{"p", map[string]string{"a.avap": "if(x, 1, =)\n"}, "end()"},
		{"p", map[string]string{"a.avap": `registerEndpoint("/a", "GET", [], "", nohandler, out)` + "\n"}, "not a function"},
		{"p", map[string]string{"a.avap": "function h(){\n}\nregisterEndpoint(\"/a\", \"BREW\", [], \"\", h, out)\n"}, "method must be"},
		{"p", map[string]string{"../a.avap": "x = 1\n"}, "bad file path"},
		{"p", map[string]string{"a.avap": "function h(){\n}\nregisterEndpoint(\"/a\", \"GET\", [], \"\", h, o)\nregisterEndpoint(\"/a\", \"GET\", [], \"\", h, o)\n"}, "registered twice"},
	}
	for _, c := range cases {
		resp, m := deployJSON(t, base, c.name, c.files)
		if resp.StatusCode != 400 || !strings.Contains(m["error"].(string), c.want) {
			t.Errorf("%s %v: %d %v, want 400 %q", c.name, c.files, resp.StatusCode, m, c.want)
		}
	}
	resp, m := call(t, http.MethodPost, base+"/api/v1/projects", "text/plain", []byte("x"))
	if resp.StatusCode != 415 {
		t.Errorf("text body: %d %v", resp.StatusCode, m)
	}
}

const usersProject = `function get_user(){
  addParam(id, id)
  addResult(id)
}
function me(){
  who = "me"
  addResult(who)
}
function del_user(){
  addParam(id, deleted)
  addResult(deleted)
}
function member(){
  addParam(org, org)
  addParam(user, user)
  getQueryParamList(q)
  addResult(org)
  addResult(user)
  addResult(q)
}
registerEndpoint("/users/{id}", "GET", [], "A user", get_user, id)
registerEndpoint("/users/me", "GET", [], "The caller", me, who)
registerEndpoint("/users/{id}", "DELETE", [], "Delete a user", del_user, deleted)
registerEndpoint("/orgs/{org}/users/{user}", "GET", [], "A member", member, user)
`

// TestProjectPathParams: routes with {parameters} match, expose their
// values to addParam ahead of the query string (but not in
// getQueryParamList, which is the query string), keep 404/405 answers and
// appear in the project's OpenAPI document.
func TestProjectPathParams(t *testing.T) {
	base, _, _ := projectStack(t)
	resp, m := deployJSON(t, base, "users", map[string]string{"main.avap": usersProject})
	if resp.StatusCode != 200 || m["success"] != true {
		t.Fatalf("deploy: %d %v", resp.StatusCode, m)
	}
	cases := []struct {
		method, path string
		status       int
		result       string
		allow        string
	}{
		{"GET", "/x/users/users/42", 200, `{"id":42}`, ""},
		{"GET", "/x/users/users/42?id=7", 200, `{"id":42}`, ""}, // the path parameter wins
		{"GET", "/x/users/users/a%20b", 200, `{"id":"a b"}`, ""},
		{"GET", "/x/users/users/me", 200, `{"who":"me"}`, ""},        // literal segment first
		{"DELETE", "/x/users/users/me", 200, `{"deleted":"me"}`, ""}, // /users/me has no DELETE: the pattern takes it
		{"POST", "/x/users/users/42", 405, "", "DELETE, GET"},
		{"POST", "/x/users/users/me", 405, "", "DELETE, GET"},
		{"GET", "/x/users/users/42/x", 404, "", ""},
		{"GET", "/x/users/users/", 404, "", ""},
		{"GET", "/x/users/orgs/acme/users/ann?x=1", 200, `{"org":"acme","q":[{"x":"1"}],"user":"ann"}`, ""},
	}
	for _, c := range cases {
		resp, m := call(t, c.method, base+c.path, "", nil)
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: status %d (Allow %q), want %d (%q): %v", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.status, c.allow, m)
			continue
		}
		if c.result != "" {
			if got, _ := json.Marshal(m["result"]); string(got) != c.result {
				t.Errorf("%s %s: result %s, want %s", c.method, c.path, got, c.result)
			}
		}
	}
	_, doc := call(t, http.MethodGet, base+"/api/v1/projects/users/openapi.json", "", nil)
	paths, _ := doc["paths"].(map[string]any)
	item, _ := paths["/orgs/{org}/users/{user}"].(map[string]any)
	ps, _ := item["parameters"].([]any)
	if len(ps) != 2 || ps[0].(map[string]any)["name"] != "org" || ps[0].(map[string]any)["in"] != "path" ||
		ps[0].(map[string]any)["required"] != true || ps[1].(map[string]any)["name"] != "user" {
		t.Errorf("openapi parameters of /orgs/{org}/users/{user}: %v", item)
	}
	if static, _ := paths["/users/me"].(map[string]any); static == nil || static["parameters"] != nil {
		t.Errorf("openapi /users/me: %v", static)
	}

	// Two patterns of one shape and method would match the same requests.
	resp, m = deployJSON(t, base, "dup", map[string]string{"a.avap": "function h(){\n}\nregisterEndpoint(\"/u/{id}\", \"GET\", [], \"\", h, o)\nregisterEndpoint(\"/u/{uid}\", \"GET\", [], \"\", h, o)\n"})
	if resp.StatusCode != 400 || !strings.Contains(m["error"].(string), "registered twice") {
		t.Errorf("same shape twice: %d %v", resp.StatusCode, m)
	}
	resp, m = deployJSON(t, base, "bad", map[string]string{"a.avap": "function h(){\n}\nregisterEndpoint(\"/u/x{id}\", \"GET\", [], \"\", h, o)\n"})
	if resp.StatusCode != 400 || !strings.Contains(m["error"].(string), "a parameter is {name}") {
		t.Errorf("parameter inside a segment: %d %v", resp.StatusCode, m)
	}
}

// auditLog collects audit events.
type auditLog struct {
	mu  sync.Mutex
	evs []bus.AuditEvent
}

func (l *auditLog) Emit(ev bus.AuditEvent) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
	return true
}

func (l *auditLog) actions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.evs {
		out = append(out, ev.Action+" "+ev.Target+" "+ev.Outcome)
	}
	return out
}

// TestProjectManagement: list, show and delete deployed projects; a
// deletion removes the routes from every edge without restart and is
// audited.
func TestProjectManagement(t *testing.T) {
	audit := &auditLog{}
	base, _, other := projectStackWith(t, edge.Options{Jobs: edge.JobsOptions{Audit: audit, NodeID: "edge-1"}})
	resp, m := call(t, http.MethodGet, base+"/api/v1/projects", "", nil)
	if resp.StatusCode != 200 || len(m["projects"].([]any)) != 0 {
		t.Fatalf("empty list: %d %v", resp.StatusCode, m)
	}
	for name, src := range map[string]string{"users": usersProject, "shop": shopProject} {
		if resp, m := deployJSON(t, base, name, map[string]string{"main.avap": src}); resp.StatusCode != 200 {
			t.Fatalf("deploy %s: %v", name, m)
		}
	}
	resp, m = call(t, http.MethodGet, base+"/api/v1/projects", "", nil)
	list, _ := m["projects"].([]any)
	if resp.StatusCode != 200 || len(list) != 2 {
		t.Fatalf("list: %d %v", resp.StatusCode, m)
	}
	shop, users := list[0].(map[string]any), list[1].(map[string]any)
	if shop["name"] != "shop" || shop["routes"] != 2.0 || users["name"] != "users" || users["routes"] != 4.0 ||
		len(shop["hash"].(string)) != 64 || shop["revision"].(float64) < 1 {
		t.Errorf("list = %v", list)
	}
	if at, err := time.Parse(time.RFC3339Nano, shop["deployed_at"].(string)); err != nil || time.Since(at) > time.Minute {
		t.Errorf("deployed_at = %v (%v)", shop["deployed_at"], err)
	}

	resp, m = call(t, http.MethodGet, base+"/api/v1/projects/users", "", nil)
	eps, _ := m["endpoints"].([]any)
	if resp.StatusCode != 200 || m["name"] != "users" || len(eps) != 4 {
		t.Fatalf("get: %d %v", resp.StatusCode, m)
	}
	var member map[string]any
	for _, e := range eps {
		if e.(map[string]any)["handler"] == "member" {
			member = e.(map[string]any)
		}
	}
	if got, _ := json.Marshal(member["params"]); member["method"] != "GET" || string(got) != `["org","user"]` {
		t.Errorf("endpoint member = %v", member)
	}
	if resp, _ := call(t, http.MethodGet, base+"/api/v1/projects/nosuch", "", nil); resp.StatusCode != 404 {
		t.Errorf("get unknown: %d", resp.StatusCode)
	}

	// Both edges serve the project; after DELETE, neither does.
	if r, mm := do(t, other, httptest.NewRequest(http.MethodGet, "/x/users/users/7", nil)); r.StatusCode != 200 {
		t.Fatalf("second edge before delete: %d %v", r.StatusCode, mm)
	}
	resp, m = call(t, http.MethodDelete, base+"/api/v1/projects/users", "", nil)
	if resp.StatusCode != 200 || m["deleted"] != true {
		t.Fatalf("delete: %d %v", resp.StatusCode, m)
	}
	if resp, m := call(t, http.MethodGet, base+"/x/users/users/7", "", nil); resp.StatusCode != 404 {
		t.Errorf("deleting edge still serves the project: %d %v", resp.StatusCode, m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := do(t, other, httptest.NewRequest(http.MethodGet, "/x/users/users/7", nil))
		if r.StatusCode == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second edge still serves the deleted project: %d", r.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, m = call(t, http.MethodGet, base+"/api/v1/projects", "", nil)
	if list := m["projects"].([]any); len(list) != 1 || list[0].(map[string]any)["name"] != "shop" {
		t.Errorf("list after delete: %v", m)
	}
	if resp, _ := call(t, http.MethodDelete, base+"/api/v1/projects/users", "", nil); resp.StatusCode != 404 {
		t.Errorf("second delete: %d", resp.StatusCode)
	}
	// A redeployment after a deletion serves again.
	if resp, m := deployJSON(t, base, "users", map[string]string{"main.avap": usersProject}); resp.StatusCode != 200 {
		t.Fatalf("redeploy: %v", m)
	}
	if resp, m := call(t, http.MethodGet, base+"/x/users/users/7", "", nil); resp.StatusCode != 200 {
		t.Errorf("after redeploy: %d %v", resp.StatusCode, m)
	}
	got := audit.actions()
	for _, want := range []string{"project.deploy shop ok", "project.delete users ok", "project.deploy users ok"} {
		if !slices.Contains(got, want) {
			t.Errorf("audit %v lacks %q", got, want)
		}
	}
}

// TestProjectManagementCapability: the management routes need the
// "projects" capability, like the deployment.
func TestProjectManagementCapability(t *testing.T) {
	ks := newKeyStack(t, edge.ProtectOptions{})
	execOnly, _ := ks.addKey(t, nil)
	projects, _ := ks.addKey(t, func(r *bus.APIKey) { r.Capabilities = []string{bus.KeyCapProjects} })
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/projects"}, {http.MethodGet, "/api/v1/projects/p"}, {http.MethodDelete, "/api/v1/projects/p"},
	} {
		for _, k := range []struct {
			key    string
			denied bool
		}{{"", true}, {execOnly, true}, {projects, false}} {
			req := httptest.NewRequest(c.method, c.path, nil)
			if k.key != "" {
				req.Header.Set("X-API-Key", k.key)
			}
			resp, m := do(t, ks.a, req)
			if denied := resp.StatusCode == 401 || resp.StatusCode == 403; denied != k.denied {
				t.Errorf("%s %s (key %v): %d %v", c.method, c.path, k.key != "", resp.StatusCode, m)
			}
		}
	}
}
