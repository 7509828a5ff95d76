package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
)

// Defaults of ExecuteOptions.
const (
	DefaultScriptTimeout = 5 * time.Second // vm.DefaultLimits().Timeout
	DefaultMaxTimeout    = 60 * time.Second
	DefaultMargin        = 500 * time.Millisecond
	DefaultMaxBatchItems = 100
	DefaultRetryDelay    = 25 * time.Millisecond
)

// ExecuteOptions configure the execution API.
type ExecuteOptions struct {
	// ScriptTimeout is the script time limit the executors apply when a
	// request sets none; the edge waits that long plus Margin.
	ScriptTimeout time.Duration
	// MaxTimeout caps the time limit a request may ask for (executors cap
	// it too).
	MaxTimeout time.Duration
	// Margin is added to the script time limit for the transport and the
	// executor's queue: edge deadline = time limit + Margin.
	Margin time.Duration
	// MaxBatchItems bounds the items of one batch request.
	MaxBatchItems int
	// MaxBatchBytes bounds the body of a batch request; 0 = the body limit.
	MaxBatchBytes int
	// RetryDelay is waited before the single retry of a request no
	// executor received.
	RetryDelay time.Duration
	// NoCompression disables gzip/deflate/brotli of responses.
	NoCompression bool
	// MaxInFlight caps the execution requests being served at once; one
	// more is answered 503 AVAP_OVERLOADED with Retry-After at once
	// (execute_admit.go). 0 = DefaultInFlightPerCPU × GOMAXPROCS; < 0 = no cap.
	MaxInFlight int
	// Zone, when set, sends executions to the zone's executors first and
	// to any executor when the zone has none (locality.go).
	Zone string
	// ProjectPrefix is where deployed projects answer (projects.go);
	// "" = DefaultProjectPrefix ("/x").
	ProjectPrefix string
}

func (o ExecuteOptions) withDefaults(bodyLimit int) ExecuteOptions {
	if o.ScriptTimeout <= 0 {
		o.ScriptTimeout = DefaultScriptTimeout
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = max(DefaultMaxTimeout, o.ScriptTimeout)
	}
	if o.Margin <= 0 {
		o.Margin = DefaultMargin
	}
	if o.MaxBatchItems <= 0 {
		o.MaxBatchItems = DefaultMaxBatchItems
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = bodyLimit
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	return o
}

// executeAPI serves the execution routes. It holds no per-request state;
// that lives in pooled execStates.
type executeAPI struct {
	s    *Server
	nc   *nats.Conn
	opts ExecuteOptions

	states sync.Pool // *execState
	adm    admission // in-flight cap (execute_admit.go)

	sessions sessionTable // session -> executor id (execute_session.go)

	sefMu sync.RWMutex // guards sef
	sef   map[uint64]struct{}
	seed  maphash.Seed
}

// maxSEFEntries bounds the memory of side-effect-free scripts seen.
const maxSEFEntries = 16384

// execState is the scratch space of one execution, reused across requests.
type execState struct {
	req     bus.Request
	rep     bus.Reply
	query   []bus.Param
	form    []bus.Param
	script  []byte // unescaped script text
	enc     []byte // encoded request
	out     []byte // response body
	id      []byte // batch item id (raw JSON)
	bad     error  // first problem found while reading the body
	session string // Avap-Session of the request, "" = none (execute_session.go)
	extra   bool   // the body has members other than the reserved ones
}

func (st *execState) reset() {
	st.req = bus.Request{}
	st.rep = bus.Reply{}
	clear(st.query)
	clear(st.form)
	st.query, st.form = st.query[:0], st.form[:0]
	st.script, st.enc, st.out, st.id = st.script[:0], st.enc[:0], st.out[:0], nil
	st.bad, st.extra, st.session = nil, false, ""
}

// mountExecute installs the execution API under api (the /api/v1 group).
func (s *Server) mountExecute(api fiber.Router) {
	x := &executeAPI{
		s:    s,
		nc:   s.opts.Conn,
		opts: s.opts.Execute.withDefaults(s.opts.BodyLimit),
		sef:  make(map[uint64]struct{}),
		seed: maphash.MakeSeed(),
	}
	x.states.New = func() any { return &execState{enc: make([]byte, 0, 1024), out: make([]byte, 0, 1024)} }
	x.adm.max = maxInFlight(x.opts.MaxInFlight)
	handlers := func(h fiber.Handler) []fiber.Handler {
		if x.opts.NoCompression {
			return []fiber.Handler{x.admit, h}
		}
		return []fiber.Handler{x.admit, compress.New(compress.Config{Level: compress.LevelBestSpeed}), h}
	}
	api.Post("/execute", handlers(x.handleExecute)...)
	api.Post("/execute/batch", handlers(x.handleBatch)...)
	api.Post("/execute/file", handlers(x.handleFile)...)
	api.Post("/compile", handlers(x.handleCompile)...)
	api.Get("/openapi.json", handleOpenAPI)
	s.mountProjects(api, x)
}

func (x *executeAPI) getState() *execState { return x.states.Get().(*execState) }

func (x *executeAPI) putState(st *execState) {
	if cap(st.out) > 1<<20 || cap(st.enc) > 1<<20 || cap(st.script) > 1<<20 {
		return // let big buffers go
	}
	st.reset()
	x.states.Put(st)
}

// b2s views b as a string without copying. Only for values used before the
// handler returns (fasthttp reuses its buffers afterwards).
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// acceptsJSON reports whether a request may be read as JSON: its
// Content-Type is JSON or absent, or (as AVAP Lite, which ignores the
// header, and `curl -d` users expect) it is form-urlencoded or text/plain
// while the body is a JSON object.
func acceptsJSON(ct, body []byte) bool {
	if isJSON(ct) {
		return true
	}
	mt := ct
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = bytes.TrimSpace(mt)
	if bytes.EqualFold(mt, []byte("application/x-www-form-urlencoded")) || bytes.EqualFold(mt, []byte("text/plain")) {
		b := bytes.TrimLeft(body, " \t\r\n")
		return len(b) > 0 && b[0] == '{'
	}
	return false
}

// isJSON reports whether a Content-Type is JSON (or absent).
func isJSON(ct []byte) bool {
	if len(ct) == 0 {
		return true
	}
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	return bytes.EqualFold(ct, []byte("application/json")) ||
		(bytes.HasPrefix(ct, []byte("application/")) && bytes.HasSuffix(ct, []byte("+json")))
}

// handleExecute serves POST /api/v1/execute.
func (x *executeAPI) handleExecute(c *fiber.Ctx) error {
	if !acceptsJSON(c.Request().Header.ContentType(), c.Body()) {
		return x.sendError(c, nil, bus.CodeUnsupportedMedia, "content type must be application/json")
	}
	st := x.getState()
	defer x.putState(st)
	if err := x.readSession(c, st); err != nil {
		return x.sendError(c, st, bus.CodeBadRequest, err.Error())
	}
	x.readQuery(c, st)
	if err := x.readBody(st, c.Body(), false); err != nil {
		return x.sendError(c, st, bus.CodeBadRequest, err.Error())
	}
	st.req.ID = RequestID(c)
	st.req.Lane = bus.LaneInteractive
	x.exec(c.UserContext(), st)
	setSessionHeaders(c, st)
	return x.send(c, st)
}

// readQuery collects the query string in order, viewing fasthttp's buffers.
func (x *executeAPI) readQuery(c *fiber.Ctx, st *execState) {
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		st.query = append(st.query, bus.Param{Name: b2s(k), Value: b2s(v)})
	})
	st.req.Query = st.query
}

// readBody fills st.req from a JSON execute body (or batch item).
func (x *executeAPI) readBody(st *execState, body []byte, item bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("request body must be a JSON object with a script or a command")
	}
	r := &st.req
	err := scanObject(body, func(k, v []byte) error {
		switch b2s(k) {
		case "script":
			s, err := x.jsonString(st, v, "script")
			r.Script = s
			return err
		case "command":
			s, err := stringMember(v, "command")
			r.Command = s
			return err
		case "version", "command_version":
			s, err := stringMember(v, "version")
			r.CommandVersion = s
			return err
		case "name":
			s, err := stringMember(v, "name")
			r.Name = s
			return err
		case "variables":
			return objectMember(&r.Variables, v, "variables")
		case "params":
			return objectMember(&r.Params, v, "params")
		case "limits":
			return x.readLimits(&r.Limits, v)
		case "id":
			if item {
				st.id = v
			}
		case "items":
		default:
			st.extra = true
		}
		return nil
	})
	if err != nil {
		return bodyError(err)
	}
	if r.Script == "" && r.Command == "" {
		return errors.New("request needs a non-empty script or command")
	}
	if r.Script != "" && r.Command != "" {
		return errors.New("request has both script and command")
	}
	if st.extra {
		r.Body = body
	}
	return nil
}

func bodyError(err error) error {
	if errors.Is(err, errBadJSON) {
		return errors.New("request body is not a valid JSON object")
	}
	return err
}

// jsonString decodes a JSON string member into st.script (or views it).
func (x *executeAPI) jsonString(st *execState, v []byte, name string) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if len(v) < 2 || v[0] != '"' {
		return "", errors.New(name + " must be a string")
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return b2s(v[1 : len(v)-1]), nil
	}
	st.script = unquote(st.script[:0], v)
	return b2s(st.script), nil
}

// stringMember decodes a short string member (copied).
func stringMember(v []byte, name string) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if len(v) < 2 || v[0] != '"' {
		return "", errors.New(name + " must be a string")
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return b2s(v[1 : len(v)-1]), nil
	}
	return string(unquote(nil, v)), nil
}

func objectMember(dst *json.RawMessage, v []byte, name string) error {
	if isNull(v) {
		return nil
	}
	if v[0] != '{' {
		return errors.New(name + " must be a JSON object")
	}
	*dst = v
	return nil
}

// limitsBody is the "limits" member of a request.
type limitsBody struct {
	MaxSteps       int64   `json:"max_steps"`
	TimeoutMS      float64 `json:"timeout_ms"`
	MaxMemoryBytes int64   `json:"max_memory_bytes"`
	MaxCallDepth   int64   `json:"max_call_depth"`
	MaxOutputBytes int64   `json:"max_output_bytes"`
}

func (x *executeAPI) readLimits(l *bus.Limits, v []byte) error {
	if isNull(v) {
		return nil
	}
	var lb limitsBody
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lb); err != nil {
		return errors.New("limits: " + err.Error())
	}
	if lb.MaxSteps < 0 || lb.TimeoutMS < 0 || lb.MaxMemoryBytes < 0 || lb.MaxCallDepth < 0 || lb.MaxOutputBytes < 0 {
		return errors.New("limits must not be negative")
	}
	*l = bus.Limits{MaxSteps: lb.MaxSteps, Timeout: time.Duration(lb.TimeoutMS * float64(time.Millisecond)),
		MaxMemoryBytes: lb.MaxMemoryBytes, MaxCallDepth: lb.MaxCallDepth, MaxOutputBytes: lb.MaxOutputBytes}
	return nil
}

// timeLimit is the script time limit of st.req as the executors will see it.
func (x *executeAPI) timeLimit(l *bus.Limits) time.Duration {
	if l.Timeout > 0 {
		return min(l.Timeout, x.opts.MaxTimeout)
	}
	return x.opts.ScriptTimeout
}

// exec sends st.req to the executors and leaves the answer in st.rep,
// retrying once when that is safe:
//   - no executor received it (no responders, or it answered
//     AVAP_SHUTTING_DOWN): it never ran, so any script may be resent;
//   - no reply before the deadline (the executor vanished) and the script is
//     known to be side-effect free: a re-run is harmless.
//
// A script with side effects is never re-run after it may have started.
func (x *executeAPI) exec(parent context.Context, st *execState) {
	if x.nc == nil {
		fillError(&st.rep, bus.CodeNoExecutor, "no mesh connection")
		return
	}
	subject, err := bus.ExecSubject(st.req.Lane)
	if err != nil {
		fillError(&st.rep, bus.CodeInternal, err.Error())
		return
	}
	applyKey(parent, &st.req) // API key: capabilities and limit caps (auth.go)
	wait := x.timeLimit(&st.req.Limits) + x.opts.Margin
	for attempt := 0; ; attempt++ {
		retry := x.callSession(parent, st, subject, wait) // callZoned without a session
		if !retry || attempt == 1 {
			return
		}
		if st.rep.Code == bus.CodeNoExecutor {
			time.Sleep(x.opts.RetryDelay)
		}
	}
}

// call makes one attempt and reports whether a retry is allowed.
func (x *executeAPI) call(parent context.Context, st *execState, subject string, wait time.Duration) (retry bool) {
	st.req.DeadlineUnixNano = 0 // CallWait sets now+wait
	// NATS round-trip metric and client span; no-op when off (observe.go).
	parent, hop := x.s.tel.startHop(parent, subject, st.req.Lane)
	defer hop.end(&st.rep)
	err := bus.CallWait(parent, x.nc, subject, &st.req, &st.rep, st.enc, wait)
	if err == nil {
		if st.rep.Success && st.rep.SideEffectFree {
			x.rememberSEF(&st.req)
		}
		return st.rep.Code == bus.CodeShuttingDown
	}
	var be *bus.Error
	if !errors.As(err, &be) {
		be = bus.NewError(bus.CodeInternal, err.Error())
	}
	st.rep = bus.Reply{Code: be.Code, Status: be.Status, Error: be.Description}
	switch be.Code {
	case bus.CodeNoExecutor:
		return true
	case bus.CodeTimeout:
		return x.knownSEF(&st.req)
	}
	return false
}

func (x *executeAPI) sefKey(r *bus.Request) uint64 {
	if r.Command != "" {
		return maphash.String(x.seed, "\x00cmd:"+r.Command)
	}
	return maphash.String(x.seed, r.Script)
}

func (x *executeAPI) rememberSEF(r *bus.Request) {
	k := x.sefKey(r)
	x.sefMu.RLock()
	_, ok := x.sef[k]
	x.sefMu.RUnlock()
	if ok {
		return
	}
	x.sefMu.Lock()
	if len(x.sef) >= maxSEFEntries {
		clear(x.sef)
	}
	x.sef[k] = struct{}{}
	x.sefMu.Unlock()
}

func (x *executeAPI) knownSEF(r *bus.Request) bool {
	k := x.sefKey(r)
	x.sefMu.RLock()
	_, ok := x.sef[k]
	x.sefMu.RUnlock()
	return ok
}

func fillError(rep *bus.Reply, code bus.Code, msg string) {
	info, _ := bus.Lookup(code)
	if msg == "" {
		msg = info.Description
	}
	*rep = bus.Reply{Code: code, Status: info.Status, Error: msg}
}

// httpStatus is the HTTP status of a reply.
func httpStatus(rep *bus.Reply) int {
	if rep.Success {
		if rep.Status >= 100 && rep.Status <= 599 {
			return rep.Status
		}
		return fiber.StatusOK
	}
	if rep.Status >= 400 && rep.Status <= 599 {
		return rep.Status
	}
	return rep.Code.Status()
}

// send writes st.rep as the response envelope.
func (x *executeAPI) send(c *fiber.Ctx, st *execState) error {
	st.out = appendEnvelope(st.out[:0], &st.rep, RequestID(c), nil)
	return writeJSON(c, httpStatus(&st.rep), st.rep.Code, st.out)
}

func writeJSON(c *fiber.Ctx, status int, code bus.Code, body []byte) error {
	if info, ok := bus.Lookup(code); ok && info.Retry {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	c.Status(status)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	c.Response().SetBody(body) // copies into fasthttp's reused buffer
	return nil
}

// sendError answers with an error envelope without asking the mesh.
func (x *executeAPI) sendError(c *fiber.Ctx, st *execState, code bus.Code, msg string) error {
	var rep bus.Reply
	fillError(&rep, code, msg)
	var out []byte
	if st != nil {
		out = st.out[:0]
	}
	out = appendEnvelope(out, &rep, RequestID(c), nil)
	if st != nil {
		st.out = out
	}
	return writeJSON(c, rep.Status, code, out)
}

// appendEnvelope appends the JSON response envelope of rep. The result and
// variables JSON of the executor are spliced in as they are. id, when not
// nil, is a batch item's raw JSON id.
func appendEnvelope(b []byte, rep *bus.Reply, requestID string, itemID []byte) []byte {
	if rep.Success {
		b = append(b, `{"success":true,"result":`...)
		b = appendRaw(b, rep.Result)
		b = append(b, `,"variables":`...)
		b = appendRaw(b, rep.Variables)
		b = append(b, `,"logs":[`...)
		for i, l := range rep.Logs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l)
		}
		b = append(b, `],"stats":{"steps":`...)
		b = strconv.AppendInt(b, rep.Stats.Steps, 10)
		b = append(b, `,"duration_us":`...)
		b = strconv.AppendInt(b, rep.Stats.DurationUS, 10)
		b = append(b, `,"peak_memory":`...)
		b = strconv.AppendInt(b, rep.Stats.PeakMemory, 10)
		b = append(b, '}')
	} else {
		b = append(b, `{"success":false,"error":`...)
		b = appendJSONString(b, rep.Error)
		b = append(b, `,"code":`...)
		b = appendJSONString(b, string(rep.Code))
		if rep.Line > 0 {
			b = append(b, `,"position":{"line":`...)
			b = strconv.AppendInt(b, int64(rep.Line), 10)
			b = append(b, `,"column":`...)
			b = strconv.AppendInt(b, int64(rep.Col), 10)
			b = append(b, '}')
		}
		if len(rep.Stack) > 0 {
			b = appendStack(b, rep.Stack)
		}
	}
	if itemID != nil {
		b = append(b, `,"id":`...)
		b = append(b, itemID...)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(httpStatus(rep)), 10)
	}
	if requestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, requestID)
	}
	return append(b, '}')
}

// appendStack appends the `stack` member of the error envelope: the AVAP
// call stack of a runtime error, innermost first (bus.Reply.Stack).
func appendStack(b []byte, stack []bus.StackFrame) []byte {
	b = append(b, `,"stack":[`...)
	for i, f := range stack {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"function":`...)
		b = appendJSONString(b, f.Func)
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(f.Line), 10)
		b = append(b, `,"column":`...)
		b = strconv.AppendInt(b, int64(f.Col), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, '{', '}')
	}
	return append(b, raw...)
}
