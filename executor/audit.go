package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// Auditor receives one audit event per execution. Emit must not block
// (bus.AuditEmitter queues and publishes asynchronously, dropping when its
// bounded buffer is full).
type Auditor interface {
	Emit(ev bus.AuditEvent) bool
}

// auditSync emits the audit event of a synchronous request (interactive
// lane: kind sync; batch lane: kind batch). It runs deferred in execute,
// before the request is cleared.
func (e *Executor) auditSync(req *bus.Request, rep *bus.Reply, start time.Time) {
	kind := bus.AuditSync
	if req.Lane == bus.LaneBatch {
		kind = bus.AuditBatch
	}
	ev := bus.AuditEvent{
		Kind: kind, RequestID: req.ID, Limits: auditLimits(e.limits(&req.Limits)),
		Status: replyStatus(rep), Code: rep.Code, DurationUS: rep.Stats.DurationUS, Steps: rep.Stats.Steps,
		ExecutorID: e.id, Outcome: bus.OutcomeError,
	}
	if rep.Success {
		ev.Outcome = bus.OutcomeSuccess
	}
	switch {
	case req.Command != "":
		ev.Command = commandRef(req)
	case len(req.SourceHash) == sha256.Size:
		ev.ScriptHash = hex.EncodeToString(req.SourceHash)
	case req.Script != "":
		h := sha256.Sum256(bytesOf(req.Script))
		ev.ScriptHash = hex.EncodeToString(h[:])
	}
	if ev.DurationUS == 0 {
		ev.DurationUS = time.Since(start).Microseconds()
	}
	e.opts.Audit.Emit(ev)
}

func commandRef(req *bus.Request) string {
	if req.CommandVersion == "" {
		return req.Command
	}
	return req.Command + "@" + req.CommandVersion
}

func auditLimits(l vm.Limits) *bus.AuditLimits {
	return &bus.AuditLimits{
		MaxSteps: l.MaxSteps, TimeoutMS: l.Timeout.Milliseconds(), MaxMemoryBytes: l.MaxMemoryBytes,
		MaxCallDepth: int64(l.MaxCallDepth), MaxOutputBytes: l.MaxOutputBytes,
	}
}

// replyStatus is the HTTP status the edge answers rep with.
func replyStatus(rep *bus.Reply) int {
	if rep.Success {
		if rep.Status >= 100 && rep.Status <= 599 {
			return rep.Status
		}
		return 200
	}
	if rep.Status >= 400 && rep.Status <= 599 {
		return rep.Status
	}
	return rep.Code.Status()
}
