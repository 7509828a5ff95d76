package executor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/syntax"
)

// workerState is owned by one worker goroutine.
type workerState struct {
	buf []byte // reply encoding buffer; nats copies it on publish
	req bus.Request
	obs runObs // telemetry of the current job (observe.go)
}

// serve runs one admitted request and answers it.
func (e *Executor) serve(w *workerState, l *lane, j job) {
	e.stats.inFlight.Add(1)
	defer e.stats.inFlight.Add(-1)
	var rep bus.Reply
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("executor: panic serving request", "panic", v, "stack", string(debug.Stack()))
			e.answer(w, j.reply, &bus.Reply{Code: bus.CodeInternal, Status: 500, Error: "internal error"})
		}
	}()
	e.tel.begin(e, w, l, &j) // span and queue-wait clock; no-op when off (observe.go)
	e.execute(w, &rep, j.data)
	e.tel.end(w, l, &j, &rep)
	e.answer(w, j.reply, &rep)
}

// answer encodes rep and publishes it to reply.
func (e *Executor) answer(w *workerState, reply string, rep *bus.Reply) {
	if rep.Success {
		e.stats.runs.Add(1)
	} else {
		e.stats.errors.Add(1)
	}
	if reply == "" {
		return
	}
	rep.ExecutorID = e.id
	w.buf = rep.AppendMsgpack(w.buf[:0])
	if err := e.nc.Publish(reply, w.buf); err != nil {
		e.log.Warn("executor: reply failed", "err", err)
	}
	if cap(w.buf) > 1<<20 { // do not pin a huge buffer
		w.buf = make([]byte, 0, 4096)
	}
}

// execute decodes data, runs the script and fills rep.
func (e *Executor) execute(w *workerState, rep *bus.Reply, data []byte) {
	req := &w.req
	if err := req.UnmarshalMsgpack(data); err != nil {
		code := bus.CodeBadRequest
		if errors.Is(err, bus.ErrUnsupportedVersion) {
			code = bus.CodeUnsupportedVersion
		}
		fail(rep, code, err.Error())
		return
	}
	defer func() { *req = bus.Request{} }() // drop references to the message
	if e.opts.Audit != nil {
		defer e.auditSync(req, rep, time.Now()) // runs before the reset above
	}

	lim := e.limits(&req.Limits)
	if dl, ok := req.Deadline(); ok {
		left := time.Until(dl) - e.opts.ReplyMargin
		if left <= 0 {
			fail(rep, bus.CodeTimeout, "deadline exceeded before the run started")
			return
		}
		lim.Timeout = min(lim.Timeout, left)
	}

	prog, err := e.program(req)
	if err != nil {
		compileFailure(rep, err)
		return
	}
	rep.SideEffectFree = prog.SideEffectFree()

	in := vm.Input{
		Path:      params(req.Path),
		Query:     params(req.Query),
		Form:      params(req.Form),
		Params:    req.Params,
		Body:      req.Body,
		Variables: req.Variables,
		Host:      e.opts.Host,
		Location:  e.opts.Location,
	}
	if ch, ok := e.opts.Host.(CapabilityHost); ok && req.Capabilities != 0 {
		in.Host = ch.WithCapabilities(req.Capabilities)
	}
	// The VM enforces lim.Timeout itself (deadline polled at checkpoints, a
	// timer armed for longer runs); the context adds a deadline for Host
	// calls. A program that calls no Host command needs the context only
	// for cancellation, so it runs without a per-run context and timer.
	ctx, cancel := e.runParent(w), context.CancelFunc(noCancel)
	if !rep.SideEffectFree {
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout+e.opts.ReplyMargin)
	}
	m := e.machines.Get().(*vm.Machine)
	res, err := m.Run(ctx, prog, &in, lim)
	cancel()
	e.machines.Put(m)
	if err != nil {
		e.runFailure(rep, err)
		return
	}
	rep.Success = true
	rep.Status = res.Status
	rep.Result = res.Result
	rep.Variables = res.Variables
	rep.Logs = res.Logs
	rep.Stats = bus.Stats{Steps: res.Stats.Steps, DurationUS: res.Stats.Duration.Microseconds(), PeakMemory: res.Stats.PeakMemory}
}

func noCancel() {}

// params views bus params as vm params (identical layout) without copying.
func params(ps []bus.Param) []vm.Param {
	if len(ps) == 0 {
		return nil
	}
	return unsafe.Slice((*vm.Param)(&ps[0]), len(ps))
}

// limits merges the request's limits with the defaults, capped by the maxima.
func (e *Executor) limits(r *bus.Limits) vm.Limits {
	l, mx := *e.defaults.Load(), e.opts.MaxLimits
	if r.MaxSteps > 0 {
		l.MaxSteps = min(r.MaxSteps, mx.MaxSteps)
	}
	if r.Timeout > 0 {
		l.Timeout = min(r.Timeout, mx.Timeout)
	}
	if r.MaxMemoryBytes > 0 {
		l.MaxMemoryBytes = min(r.MaxMemoryBytes, mx.MaxMemoryBytes)
	}
	if r.MaxCallDepth > 0 {
		l.MaxCallDepth = int(min(r.MaxCallDepth, int64(mx.MaxCallDepth)))
	}
	if r.MaxOutputBytes > 0 {
		l.MaxOutputBytes = min(r.MaxOutputBytes, mx.MaxOutputBytes)
	}
	return l
}

// program finds the compiled program of an inline script or a stored command.
func (e *Executor) program(req *bus.Request) (*vm.Program, error) {
	if req.Command == "" {
		if req.Script == "" {
			return nil, bus.NewError(bus.CodeBadRequest, "request has neither script nor command")
		}
		name := req.Name
		if name == "" {
			name = "main.avap"
		}
		p, hit, err := e.progs.get(name, req.Script)
		if hit {
			e.stats.cacheHits.Add(1)
		} else {
			e.stats.cacheMisses.Add(1)
		}
		return p, err
	}
	if req.Script != "" {
		return nil, bus.NewError(bus.CodeBadRequest, "request has both script and command")
	}
	// CommandVersion is ignored until the registry brings versions.
	ctx, cancel := context.WithTimeout(e.runCtx, 5*time.Second)
	src, rev, err := e.store.Get(ctx, req.Command)
	cancel()
	if errors.Is(err, ErrCommandNotFound) {
		return nil, bus.NewError(bus.CodeNotFound, fmt.Sprintf("command %q not found", req.Command))
	}
	if err != nil {
		return nil, bus.NewError(bus.CodeInternal, err.Error())
	}
	if v, ok := e.named.Load(req.Command); ok && v.(namedEntry).rev == rev {
		return v.(namedEntry).prog, nil
	}
	p, _, err := e.progs.get(req.Command+".avap", string(src))
	if err != nil {
		return nil, err
	}
	e.named.Store(req.Command, namedEntry{rev: rev, prog: p})
	return p, nil
}

func fail(rep *bus.Reply, code bus.Code, msg string) {
	info, _ := bus.Lookup(code)
	rep.Success = false
	rep.Code = code
	rep.Status = info.Status
	rep.Error = msg
}

// compileFailure maps an error of program lookup to the reply.
func compileFailure(rep *bus.Reply, err error) {
	var be *bus.Error
	if errors.As(err, &be) {
		fail(rep, be.Code, be.Description)
		return
	}
	var list syntax.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		fail(rep, bus.CodeSyntax, syntaxMessage(list))
		rep.Line, rep.Col = int(list[0].Pos.Line), int(list[0].Pos.Col)
		return
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		fail(rep, bus.CodeSyntax, se.Msg)
		rep.Line, rep.Col = int(se.Pos.Line), int(se.Pos.Col)
		return
	}
	fail(rep, bus.CodeSyntax, err.Error())
}

// syntaxMessage is the first error's message, followed by the others with
// their positions.
func syntaxMessage(list syntax.ErrorList) string {
	msg := list[0].Msg
	for i, e := range list[1:] {
		if i == 9 {
			msg += fmt.Sprintf("; and %d more", len(list)-10)
			break
		}
		msg += "; " + e.Pos.String() + ": " + e.Msg
	}
	return msg
}

// runFailure maps an error of Machine.Run to the reply.
func (e *Executor) runFailure(rep *bus.Reply, err error) {
	code := bus.CodeRuntime
	switch {
	case errors.Is(err, vm.ErrStepLimit):
		code = bus.CodeStepLimit
	case errors.Is(err, vm.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code = bus.CodeTimeout
	case errors.Is(err, vm.ErrMemoryLimit):
		code = bus.CodeMemoryLimit
	case errors.Is(err, vm.ErrCallDepth):
		code = bus.CodeCallDepth
	case errors.Is(err, vm.ErrOutputLimit):
		code = bus.CodeOutputLimit
	case errors.Is(err, vm.ErrCanceled), errors.Is(err, context.Canceled), errors.Is(err, errShutdown):
		code = bus.CodeCanceled
	case errors.Is(err, vm.ErrUnknownCommand):
		code = bus.CodeUnknownCommand
	case errors.Is(err, vm.ErrNotAvailable):
		code = bus.CodeNotAvailable
	case errors.Is(err, vm.ErrInternal):
		code = bus.CodeInternal
	}
	var ee *vm.EvalError
	if errors.As(err, &ee) {
		if ee.GoStack != "" {
			e.log.Error("executor: panic inside the VM", "err", ee.Msg, "stack", ee.GoStack)
		}
		fail(rep, code, ee.Msg)
		rep.Line, rep.Col = int(ee.Pos.Line), int(ee.Pos.Col)
		rep.Stack = StackOf(ee)
		return
	}
	fail(rep, code, err.Error())
}

// StackOf converts the call stack of a runtime error (outermost first) to
// the wire form: innermost first, at most bus.MaxStackFrames frames, the
// top level named "<main>". It returns nil when ee has no stack.
func StackOf(ee *vm.EvalError) []bus.StackFrame {
	if ee == nil || len(ee.Stack) == 0 {
		return nil
	}
	n := min(len(ee.Stack), bus.MaxStackFrames)
	fs := make([]bus.StackFrame, n)
	for i := range fs {
		f := ee.Stack[len(ee.Stack)-1-i]
		name := f.Func
		if name == "" {
			name = "<main>"
		}
		fs[i] = bus.StackFrame{Func: name, Line: int(f.Pos.Line), Col: int(f.Pos.Col)}
	}
	return fs
}
