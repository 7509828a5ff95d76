package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// process runs one delivered job message to a stored outcome. The job
// record's revision is the arbiter: the attempt is claimed with a
// compare-and-swap (running, attempts+1) and the outcome is written with a
// compare-and-swap at the claimed revision, so if two executors ever hold
// the same job (one stalled past AckWait) only one outcome is stored and
// only that executor acknowledges the message.
func (r *JobRunner) process(p bus.Priority, msg jetstream.Msg) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("job runner: panic", "panic", v, "stack", string(debug.Stack()))
			_ = msg.NakWithDelay(r.opts.BackoffBase)
		}
	}()
	ctx := r.runCtx
	id := msg.Headers().Get(bus.HeaderJobID)
	if bus.ValidJobID(id) != nil {
		r.log.Warn("job message without a valid id; dropped", "priority", p)
		_ = msg.Term()
		return
	}
	meta, _ := msg.Metadata()
	now := time.Now().UTC()
	var lostAttempt bool

	// Claim the attempt.
	rec, rev, err := r.jobs.Update(ctx, id, func(rec *bus.JobRecord) error {
		lostAttempt = false
		if rec.State.Terminal() {
			return bus.ErrSkipUpdate
		}
		if rec.State == bus.JobRunning {
			// The message came back while the record says running: the
			// executor of that attempt died (no heartbeat, no outcome).
			lostAttempt = true
			markLast(rec, "lost", bus.CodeExecutorLost, "executor "+rec.Executor+" stopped during the attempt", now)
			if rec.Attempts >= rec.MaxAttempts {
				return errDeadOnArrival
			}
		}
		rec.State = bus.JobRunning
		rec.Attempts++
		rec.StartedAt = &now
		rec.Executor = r.e.id
		rec.NextAttempt = nil
		if meta != nil {
			rec.Seq = meta.Sequence.Stream
		}
		rec.History = append(rec.History, bus.JobAttempt{Attempt: rec.Attempts, Executor: r.e.id, StartedAt: now, Outcome: "running"})
		return nil
	})
	switch {
	case errors.Is(err, bus.ErrJobNotFound):
		_ = msg.Term() // the record expired or never existed
		return
	case errors.Is(err, bus.ErrSkipUpdate):
		// Finished earlier (redelivered after the outcome was stored, or
		// canceled): make sure its callback is queued, then drop it.
		r.reaudit(rec)
		if rec.CallbackURL != "" && rec.State != bus.JobCanceled && rec.Callback != nil && rec.Callback.State == "pending" {
			_ = r.jobs.EnqueueCallback(ctx, id, strconv.Itoa(rec.Attempts))
		}
		_ = msg.Ack()
		return
	case errors.Is(err, errDeadOnArrival):
		r.stats.lost.Add(1)
		r.deadLetter(ctx, msg, rec, rev, "executor lost on the last attempt", true)
		return
	case err != nil:
		r.log.Warn("job claim failed", "job", id, "err", err)
		_ = msg.NakWithDelay(r.opts.BackoffBase)
		return
	}
	if lostAttempt {
		r.stats.lost.Add(1)
	}
	r.stats.started.Add(1)

	// Run, heartbeating the message and listening for cancel notices.
	runCtx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	r.running[id] = cancel
	r.mu.Unlock()
	hbDone := make(chan struct{})
	go func() {
		t := time.NewTicker(r.opts.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hbDone:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	var rep bus.Reply
	var req bus.Request
	start := time.Now()
	var lim vm.Limits
	var hash string
	if err := req.UnmarshalMsgpack(msg.Data()); err != nil {
		fail(&rep, bus.CodeBadRequest, err.Error())
	} else {
		lim, hash = r.e.runJob(runCtx, &req, &rep)
	}
	rep.ExecutorID = r.e.id
	close(hbDone)
	r.mu.Lock()
	delete(r.running, id)
	r.mu.Unlock()
	cause := context.Cause(runCtx)
	cancel(nil)
	end := time.Now().UTC()

	switch {
	case errors.Is(cause, errJobCanceled):
		r.stats.canceled.Add(1)
		_ = msg.Ack() // the record already says canceled
		return
	case errors.Is(cause, errRunnerStopping):
		// Interrupted by shutdown: requeue without using up the attempt.
		_, _, err := r.jobs.Update(context.WithoutCancel(ctx), id, func(rec *bus.JobRecord) error {
			if rec.State != bus.JobRunning || rec.Executor != r.e.id {
				return bus.ErrSkipUpdate
			}
			markLast(rec, "interrupted", bus.CodeShuttingDown, "executor shutting down", end)
			rec.State = bus.JobQueued
			rec.Attempts--
			return nil
		})
		if err == nil {
			_ = msg.NakWithDelay(defaultJobInterruptRetryDelay)
		}
		return
	}

	info, _ := bus.Lookup(rep.Code)
	retryable := !rep.Success && info.Retry
	if retryable && rec.Attempts >= rec.MaxAttempts {
		markLast(rec, "failed", rep.Code, rep.Error, end)
		rec.Reply = bus.NewJobReply(&rep)
		r.audit(rec, &req, &rep, lim, hash, start) // before the ack in deadLetter
		r.deadLetter(ctx, msg, rec, rev, "retryable failure on every attempt ("+strconv.Itoa(rec.Attempts)+")", false)
		return
	}
	if retryable {
		delay := bus.JobBackoff(rec.Attempts, r.opts.BackoffBase, r.opts.BackoffMax, rand.Float64())
		retryAt := end.Add(delay)
		markLast(rec, "retry", rep.Code, rep.Error, end)
		rec.History[len(rec.History)-1].RetryAt = &retryAt
		rec.State = bus.JobQueued
		rec.NextAttempt = &retryAt
		rec.UpdatedAt = end
		if _, err := r.jobs.UpdateAt(ctx, rec, rev); err != nil {
			r.lostRace(msg, id, err)
			return
		}
		r.stats.retried.Add(1)
		_ = msg.NakWithDelay(delay)
		return
	}

	// Final outcome.
	if rep.Success {
		rec.State = bus.JobSucceeded
		markLast(rec, "succeeded", "", "", end)
	} else {
		rec.State = bus.JobFailed
		markLast(rec, "failed", rep.Code, rep.Error, end)
	}
	rec.Reply = bus.NewJobReply(&rep)
	rec.FinishedAt = &end
	rec.UpdatedAt = end
	if _, err := r.jobs.UpdateAt(ctx, rec, rev); err != nil {
		r.lostRace(msg, id, err)
		return
	}
	if rep.Success {
		r.stats.succeeded.Add(1)
	} else {
		r.stats.failed.Add(1)
	}
	r.audit(rec, &req, &rep, lim, hash, start)
	if rec.CallbackURL != "" {
		_ = r.jobs.EnqueueCallback(ctx, id, strconv.Itoa(rec.Attempts))
	}
	_ = msg.Ack()
}

var errDeadOnArrival = errors.New("job out of attempts")

// lostRace handles a failed outcome write: if the record moved on (the job
// was canceled, or another executor took it over) this executor's outcome
// is discarded and the message is left to its owner.
func (r *JobRunner) lostRace(msg jetstream.Msg, id string, err error) {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		if rec, _, gerr := r.jobs.Get(r.runCtx, id); gerr == nil && rec.State == bus.JobCanceled {
			_ = msg.Ack()
			return
		}
		r.log.Warn("job outcome discarded: another executor owns the job", "job", id)
		return
	}
	r.log.Warn("job outcome not stored; the job will be redelivered", "job", id, "err", err)
	_ = msg.NakWithDelay(r.opts.BackoffBase)
}

// deadLetter moves rec to the DLQ: the dead letter is published first,
// then the record is marked dead (CAS at rev), then the message is
// acknowledged; a crash in between redelivers the job, which finds it out
// of attempts again.
func (r *JobRunner) deadLetter(ctx context.Context, msg jetstream.Msg, rec *bus.JobRecord, rev uint64, reason string, claimFailed bool) {
	now := time.Now().UTC()
	last := rec.History[len(rec.History)-1]
	dl := &bus.DeadLetter{
		ID: rec.ID, Priority: rec.Priority, Reason: reason, Attempts: rec.Attempts,
		LastCode: last.Code, LastError: last.Error, History: rec.History, DeadAt: now, Request: msg.Data(),
	}
	if err := r.jobs.DeadLetterJob(ctx, dl); err != nil {
		r.log.Warn("dead-letter failed; job redelivered later", "job", rec.ID, "err", err)
		_ = msg.NakWithDelay(r.opts.BackoffBase)
		return
	}
	rec.State = bus.JobDead
	rec.DeadReason = reason
	rec.FinishedAt = &now
	rec.UpdatedAt = now
	rec.NextAttempt = nil
	rec.History = append(rec.History, bus.JobAttempt{Attempt: rec.Attempts, StartedAt: now, FinishedAt: &now, Outcome: "dead", Code: last.Code, Error: reason})
	if _, err := r.jobs.UpdateAt(ctx, rec, rev); err != nil {
		r.lostRace(msg, rec.ID, err)
		return
	}
	r.stats.dead.Add(1)
	if claimFailed && r.opts.Audit != nil {
		r.emitDurable(bus.AuditEvent{
			ID: "job-" + rec.ID + "-" + strconv.Itoa(rec.Attempts), Kind: bus.AuditJob, JobID: rec.ID, RequestID: rec.RequestID,
			ClientID: rec.ClientID, Outcome: bus.OutcomeError, Code: bus.CodeExecutorLost, Status: 503, ExecutorID: r.e.id,
		})
	}
	if rec.CallbackURL != "" {
		_ = r.jobs.EnqueueCallback(ctx, rec.ID, strconv.Itoa(rec.Attempts))
	}
	_ = msg.Ack()
	r.log.Warn("job dead-lettered", "job", rec.ID, "attempts", rec.Attempts, "reason", reason)
}

// markLast finishes the newest history entry (or adds one).
func markLast(rec *bus.JobRecord, outcome string, code bus.Code, msg string, at time.Time) {
	if n := len(rec.History); n > 0 && rec.History[n-1].Outcome == "running" {
		h := &rec.History[n-1]
		h.Outcome, h.Code, h.Error, h.FinishedAt = outcome, code, msg, &at
		return
	}
	rec.History = append(rec.History, bus.JobAttempt{Attempt: rec.Attempts, StartedAt: at, FinishedAt: &at, Outcome: outcome, Code: code, Error: msg})
}

// audit emits the final outcome of a job. Its id is derived from the job
// and attempt, so a re-emitted event is stored once.
func (r *JobRunner) audit(rec *bus.JobRecord, req *bus.Request, rep *bus.Reply, lim vm.Limits, hash string, start time.Time) {
	if r.opts.Audit == nil {
		return
	}
	ev := bus.AuditEvent{
		ID: "job-" + rec.ID + "-" + strconv.Itoa(rec.Attempts), Kind: bus.AuditJob, JobID: rec.ID,
		RequestID: rec.RequestID, ClientID: rec.ClientID, ScriptHash: hash, Limits: auditLimits(lim),
		Status: replyStatus(rep), Code: rep.Code, DurationUS: rep.Stats.DurationUS, Steps: rep.Stats.Steps,
		ExecutorID: r.e.id,
	}
	if req.Command != "" {
		ev.Command = commandRef(req)
	}
	if ev.DurationUS == 0 {
		ev.DurationUS = time.Since(start).Microseconds()
	}
	ev.Outcome = bus.OutcomeError
	if rep.Success {
		ev.Outcome = bus.OutcomeSuccess
	}
	r.emitDurable(ev)
}

// durableAuditor is an Auditor that can also publish synchronously
// (bus.AuditEmitter).
type durableAuditor interface {
	Publish(ctx context.Context, ev bus.AuditEvent) error
}

// emitDurable publishes a job's final audit event before the job's message
// is acknowledged, so a crash in between re-publishes it (same id: stored
// once) instead of losing it.
func (r *JobRunner) emitDurable(ev bus.AuditEvent) {
	if d, ok := r.opts.Audit.(durableAuditor); ok {
		ctx, cancel := context.WithTimeout(r.runCtx, 5*time.Second)
		err := d.Publish(ctx, ev)
		cancel()
		if err == nil {
			return
		}
	}
	r.opts.Audit.Emit(ev)
}

// reaudit re-publishes the final audit event of a job found finished on
// redelivery (its executor may have died between storing the outcome and
// acknowledging); the id matches the original, so it is stored once.
func (r *JobRunner) reaudit(rec *bus.JobRecord) {
	if r.opts.Audit == nil || rec.State == bus.JobCanceled || rec.Reply == nil {
		return
	}
	ev := bus.AuditEvent{
		ID: "job-" + rec.ID + "-" + strconv.Itoa(rec.Attempts), Kind: bus.AuditJob, JobID: rec.ID, RequestID: rec.RequestID,
		ClientID: rec.ClientID, Code: rec.Reply.Code, Steps: rec.Reply.Stats.Steps, DurationUS: rec.Reply.Stats.DurationUS,
		ExecutorID: rec.Reply.ExecutorID, Outcome: bus.OutcomeError, Status: rec.Reply.Status,
	}
	if rec.FinishedAt != nil {
		ev.Time = *rec.FinishedAt
	}
	if rec.Reply.Success {
		ev.Outcome = bus.OutcomeSuccess
	}
	rep := rec.Reply.ToReply()
	ev.Status = replyStatus(&rep)
	r.emitDurable(ev)
}

// runJob runs a job's request under ctx (canceled by DELETE or shutdown)
// and fills rep like execute does for a synchronous request. A failure
// whose cause is a retryable *bus.Error (a Host command reporting its
// dependency down or rate limited) keeps that error's code so the runner
// can retry it. It returns the effective limits and the script hash.
func (e *Executor) runJob(ctx context.Context, req *bus.Request, rep *bus.Reply) (vm.Limits, string) {
	lim := e.limits(&req.Limits)
	hash := ""
	if req.Script != "" {
		h := sha256.Sum256([]byte(req.Script))
		hash = hex.EncodeToString(h[:])
	}
	prog, err := e.program(req)
	if err != nil {
		compileFailure(rep, err)
		return lim, hash
	}
	rep.SideEffectFree = prog.SideEffectFree()
	in := vm.Input{
		Query: params(req.Query), Form: params(req.Form), Params: req.Params, Body: req.Body,
		Variables: req.Variables, Host: e.opts.Host, Location: e.opts.Location,
	}
	rctx, cancel := context.WithTimeout(ctx, lim.Timeout+e.opts.ReplyMargin)
	m := e.machines.Get().(*vm.Machine)
	res, err := m.Run(rctx, prog, &in, lim)
	cancel()
	e.machines.Put(m)
	if err != nil {
		e.runFailure(rep, err)
		var be *bus.Error
		if errors.As(err, &be) {
			if info, ok := bus.Lookup(be.Code); ok && info.Retry {
				rep.Code, rep.Status = be.Code, info.Status
			}
		}
		return lim, hash
	}
	rep.Success = true
	rep.Status = res.Status
	rep.Result = res.Result
	rep.Variables = res.Variables
	rep.Logs = res.Logs
	rep.Stats = bus.Stats{Steps: res.Stats.Steps, DurationUS: res.Stats.Duration.Microseconds(), PeakMemory: res.Stats.PeakMemory}
	return lim, hash
}
