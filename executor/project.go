package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/syntax"
)

// Bounds of a project upload.
const (
	MaxProjectFiles  = 64
	MaxProjectBytes  = 512 << 10 // all files together
	MaxProjectRoutes = 256
)

// deployBody is the JSON body of a deploy request (bus.Request.Body; the
// project name is bus.Request.Name).
type deployBody struct {
	Files map[string]string `json:"files"`
}

// deployResult is the result object of a successful deployment.
type deployResult struct {
	Name     string      `json:"name"`
	Revision uint64      `json:"revision"`
	Routes   []bus.Route `json:"routes"`
}

// addProjectEndpoint registers the deploy endpoint on the micro service.
func (e *Executor) addProjectEndpoint(svc micro.Service) error {
	return svc.AddEndpoint("project-deploy", micro.HandlerFunc(e.handleDeploy),
		micro.WithEndpointSubject(bus.ProjectDeploySubject))
}

// handleDeploy compiles a project and stores it in bus.ProjectsBucket,
// where every edge picks it up. Deploying is rare; it runs on the
// subscription goroutine.
func (e *Executor) handleDeploy(r micro.Request) {
	var req bus.Request
	var rep bus.Reply
	rep.ExecutorID = e.id
	if err := req.UnmarshalMsgpack(r.Data()); err != nil {
		fail(&rep, bus.CodeBadRequest, err.Error())
	} else {
		e.deploy(&req, &rep)
	}
	if rep.Success {
		_ = r.Respond(rep.AppendMsgpack(nil))
		return
	}
	info, _ := bus.Lookup(rep.Code)
	_ = r.Error(strconv.Itoa(info.Num), rep.Error, rep.AppendMsgpack(nil),
		micro.WithHeaders(micro.Headers{bus.HeaderCode: {string(rep.Code)}}))
}

func (e *Executor) deploy(req *bus.Request, rep *bus.Reply) {
	var body deployBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		fail(rep, bus.CodeBadRequest, "deploy body: "+err.Error())
		return
	}
	p, err := buildProject(req.Name, body.Files, e.opts.CompileOptions)
	if err != nil {
		deployFailure(rep, err)
		return
	}
	rec, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(e.runCtx, 5*time.Second)
	defer cancel()
	if dl, ok := req.Deadline(); ok {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadline(ctx, dl)
		defer c2()
	}
	var kv jetstream.KeyValue
	js, err := jetstream.New(e.nc)
	if err == nil {
		kv, err = bus.OpenProjects(ctx, js)
	}
	if err != nil {
		fail(rep, bus.CodeNotAvailable, "projects need JetStream: "+err.Error())
		return
	}
	rev, err := kv.Put(ctx, p.Name, rec)
	if err != nil {
		fail(rep, bus.CodeInternal, "store project: "+err.Error())
		return
	}
	e.log.Info("project deployed", "project", p.Name, "revision", rev, "routes", len(p.Routes))
	res, _ := json.Marshal(deployResult{Name: p.Name, Revision: rev, Routes: p.Routes})
	rep.Success = true
	rep.Result = res
}

// buildProject checks and compiles the files of a project: every file
// parses; the top-level registerEndpoint calls (literal arguments only)
// name functions of the project; and the program of every route compiles.
// Errors come back as *bus.Error or a syntax error with the file's
// position.
func buildProject(name string, files map[string]string, copts vm.CompileOptions) (*bus.Project, error) {
	if err := bus.ValidProjectName(name); err != nil {
		return nil, bus.NewError(bus.CodeBadRequest, err.Error())
	}
	if len(files) == 0 {
		return nil, bus.NewError(bus.CodeBadRequest, "a project needs at least one .avap file")
	}
	if len(files) > MaxProjectFiles {
		return nil, bus.NewError(bus.CodeTooLarge, fmt.Sprintf("a project holds at most %d files", MaxProjectFiles))
	}
	order := make([]string, 0, len(files))
	total := 0
	for p, src := range files {
		if err := validProjectPath(p); err != nil {
			return nil, bus.NewError(bus.CodeBadRequest, err.Error())
		}
		total += len(src)
		order = append(order, p)
	}
	if total > MaxProjectBytes {
		return nil, bus.NewError(bus.CodeTooLarge, fmt.Sprintf("project sources exceed %d bytes", MaxProjectBytes))
	}
	sort.Strings(order)

	var source strings.Builder
	var starts []fileStart
	line := 1 // first line of the next file in the joined source
	funcs := map[string]bool{}
	var routes []bus.Route
	var regs []registration
	for _, p := range order {
		src := files[p]
		f, err := syntax.Parse(p, []byte(src), syntax.Options{MaxSourceBytes: copts.MaxSourceBytes, MaxNesting: copts.MaxNesting})
		if err != nil {
			return nil, err
		}
		blanked := []byte(src)
		for _, s := range f.Stmts {
			switch s := s.(type) {
			case *syntax.FuncDecl:
				if s.Name != nil {
					funcs[s.Name.Name] = true
				}
			case *syntax.ExprStmt:
				id, ok := s.X.Fun.(*syntax.Ident)
				if !ok || id.Name != "registerEndpoint" {
					continue
				}
				r, err := routeOf(p, s.X)
				if err != nil {
					return nil, err
				}
				regs = append(regs, registration{route: r, file: p, pos: s.X.Pos()})
				blank(blanked, s.X.Pos(), s.X.Rparen)
			}
		}
		starts = append(starts, fileStart{file: p, line: line})
		source.Write(blanked)
		if !strings.HasSuffix(src, "\n") {
			source.WriteByte('\n')
		}
		line += strings.Count(src, "\n")
		if !strings.HasSuffix(src, "\n") {
			line++
		}
	}
	if len(regs) == 0 {
		return nil, bus.NewError(bus.CodeBadRequest, "the project registers no endpoint (registerEndpoint at top level)")
	}
	if len(regs) > MaxProjectRoutes {
		return nil, bus.NewError(bus.CodeTooLarge, fmt.Sprintf("a project registers at most %d endpoints", MaxProjectRoutes))
	}
	seen := map[string]string{}
	for _, rg := range regs {
		r := rg.route
		at := fmt.Sprintf("%s:%s", rg.file, rg.pos)
		// "/users/{id}" and "/users/{uid}" match the same requests.
		rp, _ := bus.ParseRoutePath(r.Path) // checked by routeOf
		if prev, dup := seen[r.Method+" "+rp.Shape()]; dup {
			return nil, bus.NewError(bus.CodeBadRequest, fmt.Sprintf("%s: %s %s registered twice (as %s)", at, r.Method, r.Path, prev))
		}
		seen[r.Method+" "+rp.Shape()] = r.Path
		for _, fn := range append([]string{r.Handler}, r.Middleware...) {
			if !funcs[fn] {
				return nil, bus.NewError(bus.CodeBadRequest, fmt.Sprintf("%s: %s is not a function of the project", at, fn))
			}
		}
		routes = append(routes, r)
	}
	p := &bus.Project{Name: name, Files: files, Order: order, Source: source.String(), Routes: routes, Deployed: time.Now().UTC()}
	for i := range p.Routes {
		if _, err := vm.Compile(name+".avap", []byte(bus.EndpointScript(p.Source, &p.Routes[i])), copts); err != nil {
			return nil, relocate(err, name+".avap", starts, line, regs[i])
		}
	}
	return p, nil
}

// fileStart is where a project file begins in the joined source.
type fileStart struct {
	file string
	line int // 1-based line of the joined source
}

// relocate maps the positions of a compile error of the joined source
// (file joined) back to the project file and line they come from; the
// code generated after the source (end, from line end on) belongs to the
// route's registerEndpoint call. Columns are unchanged: files are joined
// whole, line by line.
func relocate(err error, joined string, starts []fileStart, end int, rg registration) error {
	fix := func(e *syntax.Error) *syntax.Error {
		if e.Filename != joined || !e.Pos.IsValid() {
			return e
		}
		c := *e
		if int(e.Pos.Line) >= end {
			c.Filename, c.Pos = rg.file, rg.pos
			c.Msg = fmt.Sprintf("endpoint %s %s: %s", rg.route.Method, rg.route.Path, e.Msg)
			return &c
		}
		for i := len(starts) - 1; i >= 0; i-- {
			if int(e.Pos.Line) >= starts[i].line {
				c.Filename = starts[i].file
				c.Pos.Line = e.Pos.Line - int32(starts[i].line-1)
				return &c
			}
		}
		return e
	}
	var list syntax.ErrorList
	if errors.As(err, &list) {
		out := make(syntax.ErrorList, len(list))
		for i, e := range list {
			out[i] = fix(e)
		}
		return out
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		return fix(se)
	}
	return err
}

// deployFailure is compileFailure for a project: the message names the
// file of each error ("b.avap:3:5: msg"), and Line/Col are within that
// file.
func deployFailure(rep *bus.Reply, err error) {
	compileFailure(rep, err)
	var list syntax.ErrorList
	var se *syntax.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
		msgs := make([]string, 0, min(len(list), 10))
		for i, e := range list {
			if i == 10 {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(list)-10))
				break
			}
			msgs = append(msgs, e.Error())
		}
		rep.Error = strings.Join(msgs, "; ")
	case errors.As(err, &se):
		rep.Error = se.Error()
	}
}

type registration struct {
	route bus.Route
	file  string
	pos   syntax.Pos
}

func validProjectPath(p string) error {
	if p == "" || len(p) > 256 || !strings.HasSuffix(p, ".avap") || strings.HasPrefix(p, "/") ||
		path.Clean(p) != p || strings.HasPrefix(p, "../") || strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("bad file path %q (want a relative path ending in .avap)", p)
	}
	return nil
}

// blank replaces the bytes from start to end (inclusive, byte columns) by
// spaces, keeping newlines, so the source keeps its line numbers.
func blank(src []byte, start, end syntax.Pos) {
	line, col := int32(1), int32(1)
	for i := 0; i < len(src); i++ {
		in := (line > start.Line || line == start.Line && col >= start.Col) && (line < end.Line || line == end.Line && col <= end.Col)
		if src[i] == '\n' {
			line, col = line+1, 1
			continue
		}
		if in {
			src[i] = ' '
		}
		col++
	}
}

var routeMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true}

// routeOf reads registerEndpoint(path, method, middleware, description,
// handler, output); every argument must be a literal or a name.
func routeOf(file string, call *syntax.CallExpr) (bus.Route, error) {
	var r bus.Route
	bad := func(i int, msg string) error {
		pos := call.Pos()
		if i < len(call.Args) && call.Args[i] != nil {
			pos = call.Args[i].Pos()
		}
		return &syntax.Error{Filename: file, Pos: pos, Msg: fmt.Sprintf("registerEndpoint argument %d: %s", i+1, msg)}
	}
	if len(call.Args) < 5 || len(call.Args) > 6 {
		return r, bad(0, "want registerEndpoint(path, method, middleware, description, handler, output)")
	}
	text := func(i int) (string, bool) {
		if i >= len(call.Args) {
			return "", true
		}
		switch a := call.Args[i].(type) {
		case nil:
			return "", true
		case *syntax.BasicLit:
			if a.Kind == syntax.StringLit {
				return a.Value, true
			}
		case *syntax.Ident:
			return a.Name, true
		}
		return "", false
	}
	var ok bool
	if r.Path, ok = text(0); !ok {
		return r, bad(0, "path must be a literal like \"/users/list\" or \"/users/{id}\"")
	}
	if _, err := bus.ParseRoutePath(r.Path); err != nil {
		return r, bad(0, err.Error())
	}
	m, ok := text(1)
	r.Method = strings.ToUpper(m)
	if !ok || !routeMethods[r.Method] {
		return r, bad(1, "method must be GET, POST, PUT, PATCH or DELETE")
	}
	switch a := call.Args[2].(type) {
	case nil:
	case *syntax.ListLit:
		for _, el := range a.Elems {
			var n string
			switch el := el.(type) {
			case *syntax.Ident:
				n = el.Name
			case *syntax.BasicLit:
				n = el.Value
			}
			if !bus.IsIdentifier(n) {
				return r, bad(2, "middleware must be a list of function names")
			}
			r.Middleware = append(r.Middleware, n)
		}
	default:
		if n, ok := text(2); ok && (n == "" || bus.IsIdentifier(n)) {
			if n != "" {
				r.Middleware = []string{n}
			}
			break
		}
		return r, bad(2, "middleware must be a list of function names")
	}
	if r.Middleware == nil {
		r.Middleware = []string{}
	}
	if r.Description, ok = text(3); !ok {
		return r, bad(3, "description must be text")
	}
	if r.Handler, ok = text(4); !ok || !bus.IsIdentifier(r.Handler) {
		return r, bad(4, "handler must be a function name")
	}
	if r.Output, ok = text(5); !ok || r.Output != "" && !bus.IsIdentifier(r.Output) {
		return r, bad(5, "output must be a variable name")
	}
	return r, nil
}
