package edge

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// Defaults of JobsOptions.
const (
	DefaultAuditQueryTimeout = 5 * time.Second
	DefaultRedriveLockTTL    = 30 * time.Second
	maxCallbackURL           = 2048
	openRetryInterval        = time.Second
)

// Auditor receives administrative audit events (bus.AuditEmitter is one).
type Auditor interface {
	Emit(ev bus.AuditEvent) bool
}

// JobsOptions configure the durable-work API: /api/v1/jobs, /api/v1/dlq,
// /api/v1/audit and the Idempotency-Key header.
type JobsOptions struct {
	Disabled          bool                      // serve none of it (no JetStream)
	Store             bus.JobsConfig            // job streams; must match the executors'
	IdempotencyTTL    time.Duration             // how long Idempotency-Key responses are kept; 0 = bus default
	Memory            bool                      // memory storage for buckets (tests)
	Audit             Auditor                   // admin actions (cancel, redrive, DLQ delete) are audited here; or nil
	AuditQueryTimeout time.Duration             // bound on GET /api/v1/audit; 0 = default
	NodeID            string                    // stamped on admin audit events
	ClientID          func(c *fiber.Ctx) string // API key id of a request (auth); or nil
}

// jobsAPI serves the durable-work routes. JetStream objects are opened on
// first use (and retried), so the edge starts even while JetStream is not
// ready yet.
type jobsAPI struct {
	s    *Server
	x    *executeAPI // request parsing shared with /execute
	opts JobsOptions

	mu       sync.Mutex // guards the fields below
	jobs     *bus.Jobs
	idem     *bus.Idempotency
	locks    *bus.Locks
	lastFail time.Time
	lastErr  error
}

// mountJobs installs the durable-work routes and the idempotency
// middleware. It must run before mountExecute so the middleware sees the
// execute routes.
func (s *Server) mountJobs(api fiber.Router) {
	if s.opts.Jobs.Disabled {
		return
	}
	x := &executeAPI{s: s, nc: s.opts.Conn, opts: s.opts.Execute.withDefaults(s.opts.BodyLimit)}
	x.states.New = func() any { return &execState{enc: make([]byte, 0, 1024), out: make([]byte, 0, 1024)} }
	j := &jobsAPI{s: s, x: x, opts: s.opts.Jobs}
	if j.opts.AuditQueryTimeout <= 0 {
		j.opts.AuditQueryTimeout = DefaultAuditQueryTimeout
	}
	api.Use(j.idempotencyMiddleware)
	api.Post("/jobs", j.handleSubmit)
	api.Get("/jobs/:id", j.handleGet)
	api.Delete("/jobs/:id", j.handleCancel)
	api.Get("/dlq", j.handleDLQList)
	api.Post("/dlq/:id/redrive", j.handleRedrive)
	api.Delete("/dlq/:id", j.handleDLQDelete)
	api.Get("/audit", j.handleAudit)
}

// open returns the job store, the idempotency store and the locks,
// opening them on first use.
func (j *jobsAPI) open(ctx context.Context) (*bus.Jobs, *bus.Idempotency, *bus.Locks, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jobs != nil {
		return j.jobs, j.idem, j.locks, nil
	}
	if time.Since(j.lastFail) < openRetryInterval {
		return nil, nil, nil, j.lastErr
	}
	if j.s.opts.Conn == nil {
		return nil, nil, nil, errors.New("no mesh connection")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := j.opts.Store
	cfg.Memory = cfg.Memory || j.opts.Memory
	jobs, err := bus.OpenJobs(ctx, j.s.opts.Conn, cfg)
	var idem *bus.Idempotency
	var locks *bus.Locks
	if err == nil {
		idem, err = bus.OpenIdempotency(ctx, j.s.opts.Conn, j.opts.IdempotencyTTL, j.opts.Memory)
	}
	if err == nil {
		locks, err = bus.OpenLocks(ctx, j.s.opts.Conn, "edge-"+j.opts.NodeID, j.opts.Memory)
	}
	if err != nil {
		j.lastFail, j.lastErr = time.Now(), err
		j.s.log.Warn("durable work API unavailable", "err", err)
		return nil, nil, nil, err
	}
	j.jobs, j.idem, j.locks = jobs, idem, locks
	return jobs, idem, locks, nil
}

func (j *jobsAPI) unavailable(c *fiber.Ctx, err error) error {
	return j.x.sendError(c, nil, bus.CodeDependencyUnavailable, "JetStream is unavailable: "+err.Error())
}

func (j *jobsAPI) clientID(c *fiber.Ctx) string {
	if j.opts.ClientID == nil {
		return ""
	}
	return j.opts.ClientID(c)
}

// handleSubmit serves POST /api/v1/jobs: the /execute body plus
// "priority" (high, normal, low) and "callback_url".
func (j *jobsAPI) handleSubmit(c *fiber.Ctx) error {
	x := j.x
	body := c.Body()
	if !acceptsJSON(c.Request().Header.ContentType(), body) {
		return x.sendError(c, nil, bus.CodeUnsupportedMedia, "content type must be application/json")
	}
	prio, cb, err := jobMembers(body)
	if err != nil {
		return x.sendError(c, nil, bus.CodeBadRequest, err.Error())
	}
	st := x.getState()
	defer x.putState(st)
	x.readQuery(c, st)
	if err := x.readBody(st, body, false); err != nil {
		return x.sendError(c, st, bus.CodeBadRequest, err.Error())
	}
	jobs, _, _, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	id := bus.NewJobID()
	if kh, ok := c.Locals(keyIdempotency).(string); ok && kh != "" {
		id = bus.JobIDForKey(kh)
	}
	rid := RequestID(c)
	st.req.ID = rid
	st.req.Lane = bus.LaneBatch
	st.enc = st.req.AppendMsgpack(st.enc[:0])
	rec, _, err := jobs.Submit(c.UserContext(), bus.JobSubmission{
		ID: id, Priority: prio, Request: st.enc, RequestID: rid, ClientID: j.clientID(c), CallbackURL: cb,
	})
	if err != nil {
		return j.storeError(c, err)
	}
	loc := "/api/v1/jobs/" + rec.ID
	c.Set(fiber.HeaderLocation, loc)
	out, _ := json.Marshal(map[string]any{
		"id": rec.ID, "state": rec.State, "priority": rec.Priority, "created_at": rec.CreatedAt,
		"location": loc, "request_id": rid,
	})
	return writeJSON(c, fiber.StatusAccepted, "", out)
}

// jobMembers reads and validates "priority" and "callback_url".
func jobMembers(body []byte) (bus.Priority, string, error) {
	prio := bus.PriorityNormal
	var cb string
	err := scanObject(body, func(k, v []byte) error {
		switch b2s(k) {
		case "priority":
			s, err := stringMember(v, "priority")
			if err != nil {
				return err
			}
			if s != "" {
				prio = bus.Priority(strings.ToLower(s))
				if !prio.Valid() {
					return errors.New(`priority must be "high", "normal" or "low"`)
				}
			}
		case "callback_url":
			s, err := stringMember(v, "callback_url")
			if err != nil {
				return err
			}
			cb = strings.Clone(s)
		}
		return nil
	})
	if err != nil {
		return "", "", bodyError(err)
	}
	if cb != "" {
		if err := validCallbackURL(cb); err != nil {
			return "", "", err
		}
	}
	return prio, cb, nil
}

// validCallbackURL accepts absolute http(s) URLs without credentials. The
// egress policy (which addresses may be reached) is enforced by the
// executor when it delivers, on the resolved addresses.
func validCallbackURL(s string) error {
	if len(s) > maxCallbackURL {
		return errors.New("callback_url is longer than 2048 characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errors.New("callback_url must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("callback_url must not carry credentials")
	}
	return nil
}

func (j *jobsAPI) storeError(c *fiber.Ctx, err error) error {
	var be *bus.Error
	switch {
	case errors.As(err, &be):
		return j.x.sendError(c, nil, be.Code, be.Description)
	case errors.Is(err, bus.ErrJobNotFound):
		return j.x.sendError(c, nil, bus.CodeNotFound, "job not found")
	case errors.Is(err, bus.ErrInvalidJobID):
		return j.x.sendError(c, nil, bus.CodeBadRequest, err.Error())
	case errors.Is(err, bus.ErrJobFinished):
		return j.x.sendError(c, nil, bus.CodeConflict, "the job already finished")
	case errors.Is(err, context.DeadlineExceeded):
		return j.x.sendError(c, nil, bus.CodeDependencyUnavailable, "JetStream did not answer in time")
	}
	j.s.Logger(c).Warn("job store error", "err", err)
	return j.x.sendError(c, nil, bus.CodeInternal, "job store error")
}

// jobView is the JSON of GET /api/v1/jobs/{id}.
type jobView struct {
	ID          string             `json:"id"`
	State       bus.JobState       `json:"state"`
	Priority    bus.Priority       `json:"priority"`
	Attempts    int                `json:"attempts"`
	MaxAttempts int                `json:"max_attempts"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	FinishedAt  *time.Time         `json:"finished_at,omitempty"`
	NextAttempt *time.Time         `json:"next_attempt_at,omitempty"`
	Queue       *queueView         `json:"queue,omitempty"`
	ExecutorID  string             `json:"executor_id,omitempty"`
	RequestID   string             `json:"request_id,omitempty"`
	Result      json.RawMessage    `json:"result,omitempty"`
	DeadReason  string             `json:"dead_reason,omitempty"`
	History     []bus.JobAttempt   `json:"history,omitempty"`
	CallbackURL string             `json:"callback_url,omitempty"`
	Callback    *bus.CallbackState `json:"callback,omitempty"`
}

type queueView struct {
	Position        int64 `json:"position"`
	EstimatedWaitMS int64 `json:"estimated_wait_ms"`
}

func (j *jobsAPI) view(ctx context.Context, jobs *bus.Jobs, rec *bus.JobRecord) jobView {
	v := jobView{
		ID: rec.ID, State: rec.State, Priority: rec.Priority, Attempts: rec.Attempts, MaxAttempts: rec.MaxAttempts,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt,
		NextAttempt: rec.NextAttempt, ExecutorID: rec.Executor, RequestID: rec.RequestID, DeadReason: rec.DeadReason,
		History: rec.History, CallbackURL: rec.CallbackURL, Callback: rec.Callback,
	}
	if rec.State == bus.JobQueued {
		if pos, wait, err := jobs.QueueInfo(ctx, rec); err == nil {
			v.Queue = &queueView{Position: pos, EstimatedWaitMS: wait.Milliseconds()}
		}
	}
	if rec.Reply != nil && rec.State.Terminal() {
		rep := rec.Reply.ToReply()
		v.Result = appendEnvelope(nil, &rep, rec.RequestID, nil)
	}
	return v
}

// handleGet serves GET /api/v1/jobs/{id}.
func (j *jobsAPI) handleGet(c *fiber.Ctx) error {
	jobs, _, _, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	rec, _, err := jobs.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return j.storeError(c, err)
	}
	out, _ := json.Marshal(j.view(c.UserContext(), jobs, rec))
	return writeJSON(c, fiber.StatusOK, "", out)
}

// handleCancel serves DELETE /api/v1/jobs/{id}.
func (j *jobsAPI) handleCancel(c *fiber.Ctx) error {
	jobs, _, _, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	id := c.Params("id")
	rec, err := jobs.Cancel(c.UserContext(), id)
	j.auditAdmin(c, "job.cancel", id, err)
	if err != nil {
		return j.storeError(c, err)
	}
	out, _ := json.Marshal(j.view(c.UserContext(), jobs, rec))
	return writeJSON(c, fiber.StatusOK, "", out)
}

// auditAdmin records an administrative action.
func (j *jobsAPI) auditAdmin(c *fiber.Ctx, action, target string, err error) {
	if j.opts.Audit == nil {
		return
	}
	ev := bus.AuditEvent{
		Kind: bus.AuditAdmin, Action: action, Target: target, RequestID: RequestID(c), ClientID: j.clientID(c),
		NodeID: j.opts.NodeID, Outcome: "ok", Status: fiber.StatusOK,
	}
	if err != nil {
		ev.Outcome, ev.Detail, ev.Status = bus.OutcomeError, err.Error(), 0
	}
	j.opts.Audit.Emit(ev)
}

// handleDLQList serves GET /api/v1/dlq?after=SEQ&limit=N.
func (j *jobsAPI) handleDLQList(c *fiber.Ctx) error {
	after, err1 := queryUint(c, "after", 0, 1<<62)
	limit, err2 := queryUint(c, "limit", 100, 1000)
	if err := errors.Join(err1, err2); err != nil {
		return j.x.sendError(c, nil, bus.CodeBadRequest, err.Error())
	}
	jobs, _, _, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	items, next, err := jobs.DeadLetters(c.UserContext(), after, int(max(limit, 1)))
	if err != nil {
		return j.storeError(c, err)
	}
	if items == nil {
		items = []bus.DeadLetter{}
	}
	resp := map[string]any{"items": items}
	if next > 0 {
		resp["next"] = next
	}
	out, _ := json.Marshal(resp)
	return writeJSON(c, fiber.StatusOK, "", out)
}

func queryUint(c *fiber.Ctx, name string, def, maxV uint64) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > maxV {
		return 0, errors.New(name + " must be an integer between 0 and " + strconv.FormatUint(maxV, 10))
	}
	return n, nil
}

// handleRedrive serves POST /api/v1/dlq/{id}/redrive: under a cluster-wide
// lock on the job, so concurrent redrives run it once.
func (j *jobsAPI) handleRedrive(c *fiber.Ctx) error {
	jobs, _, locks, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	id := c.Params("id")
	if err := bus.ValidJobID(id); err != nil {
		return j.storeError(c, err)
	}
	var rec *bus.JobRecord
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	err = locks.Do(ctx, "dlq-redrive-"+id, DefaultRedriveLockTTL, func(ctx context.Context) error {
		var err error
		rec, err = jobs.Redrive(ctx, id)
		return err
	})
	j.auditAdmin(c, "dlq.redrive", id, err)
	if err != nil {
		return j.storeError(c, err)
	}
	c.Set(fiber.HeaderLocation, "/api/v1/jobs/"+id)
	out, _ := json.Marshal(j.view(c.UserContext(), jobs, rec))
	return writeJSON(c, fiber.StatusAccepted, "", out)
}

// handleDLQDelete serves DELETE /api/v1/dlq/{id}.
func (j *jobsAPI) handleDLQDelete(c *fiber.Ctx) error {
	jobs, _, _, err := j.open(c.UserContext())
	if err != nil {
		return j.unavailable(c, err)
	}
	id := c.Params("id")
	err = jobs.DeleteDeadLetter(c.UserContext(), id)
	j.auditAdmin(c, "dlq.delete", id, err)
	if err != nil {
		return j.storeError(c, err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}
