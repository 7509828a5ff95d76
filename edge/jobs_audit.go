package edge

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
)

// handleAudit serves GET /api/v1/audit?from=&to=&client_id=&outcome=&kind=
// &request_id=&job_id=&limit=: the audit sinks answer over NATS
// (bus.AuditQuerySubject), newest first.
func (j *jobsAPI) handleAudit(c *fiber.Ctx) error {
	q, err := auditQuery(c)
	if err != nil {
		return j.x.sendError(c, nil, bus.CodeBadRequest, err.Error())
	}
	if j.s.opts.Conn == nil {
		return j.x.sendError(c, nil, bus.CodeDependencyUnavailable, "no mesh connection")
	}
	data, _ := json.Marshal(q)
	ctx, cancel := context.WithTimeout(c.UserContext(), j.opts.AuditQueryTimeout)
	defer cancel()
	msg, err := j.s.opts.Conn.RequestWithContext(ctx, bus.AuditQuerySubject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return j.x.sendError(c, nil, bus.CodeDependencyUnavailable, "no audit sink is running")
	case err != nil:
		return j.x.sendError(c, nil, bus.CodeDependencyUnavailable, "audit sink did not answer: "+err.Error())
	}
	var rep bus.AuditQueryReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return j.x.sendError(c, nil, bus.CodeInternal, "bad answer from the audit sink")
	}
	if rep.Error != "" {
		return j.x.sendError(c, nil, bus.CodeDependencyUnavailable, rep.Error)
	}
	if rep.Events == nil {
		rep.Events = []bus.AuditEvent{}
	}
	out, _ := json.Marshal(rep)
	return writeJSON(c, fiber.StatusOK, "", out)
}

func auditQuery(c *fiber.Ctx) (bus.AuditQuery, error) {
	var q bus.AuditQuery
	var errs []error
	tm := func(name string) time.Time {
		v := c.Query(name)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, errors.New(name+" must be an RFC 3339 time, e.g. 2025-01-02T15:04:05Z"))
		}
		return t
	}
	str := func(name string, maxLen int) string {
		v := c.Query(name)
		if len(v) > maxLen {
			errs = append(errs, errors.New(name+" is too long"))
			return ""
		}
		return strings.Clone(v)
	}
	q.From, q.To = tm("from"), tm("to")
	q.ClientID = str("client_id", 128)
	q.RequestID = str("request_id", 256)
	q.JobID = str("job_id", 64)
	q.Outcome = str("outcome", 16)
	q.Kind = str("kind", 16)
	switch q.Outcome {
	case "", bus.OutcomeSuccess, bus.OutcomeError, "ok":
	default:
		errs = append(errs, errors.New("outcome must be success, error or ok"))
	}
	switch q.Kind {
	case "", bus.AuditSync, bus.AuditBatch, bus.AuditJob, bus.AuditAdmin:
	default:
		errs = append(errs, errors.New("kind must be sync, batch, job or admin"))
	}
	limit, err := queryUint(c, "limit", 100, 1000)
	if err != nil {
		errs = append(errs, err)
	}
	q.Limit = int(max(limit, 1))
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		errs = append(errs, errors.New("to is before from"))
	}
	return q, errors.Join(errs...)
}
