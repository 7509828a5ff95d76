package vm

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/avapmesh/avap/vm/internal/compile"
	"github.com/avapmesh/avap/vm/syntax"
)

// Machine runs programs. It is reusable (pool it) but not safe for
// concurrent Runs. Cancel may be called from any goroutine.
type Machine struct {
	// cancel is set by Cancel (directly or through the context and timeout
	// bridges); the dispatch loop loads it once per instruction.
	cancel atomic.Pointer[cancelRec]
	gen    atomic.Uint64 // number of the current run
	// hostStop cancels the context of the Host call in progress, so that a
	// Cancel interrupts a blocked Host call too.
	hostStop atomic.Pointer[context.CancelFunc]
	// kids is the shared state of the current run while it has tasks
	// (async.go), so that cancelling the run cancels them; wake is
	// signalled by a cancel while gather waits.
	kids atomic.Pointer[runShared]
	wake atomic.Pointer[chan struct{}]

	// State of the current run; owned by the goroutine calling Run.
	ctx      context.Context
	deadline time.Time
	prog     *Program
	in       *Input
	lim      Limits
	steps    int64
	stepCap  int64 // steps this machine may reach before drawing more (MaxSteps without tasks)
	chunk    int64 // size of its next draw from the run's step pool (async.go)
	mem      int64
	sh       *runShared // shared budgets of a run with tasks (async.go); nil without
	shared   *runShared // kept for reuse by later runs

	stack    []Value
	frames   []frame
	handlers []handler
	globals  []Value
	order    []int32 // global slots in order of first definition
	extra    map[string]int
	extraN   []string // names of global slots past the program's own
	results  *dict
	logs     []string
	outBytes int64
	errMsg   string // message of the error being handled (ERRMSG)
	params   Value  // decoded Input.Params (undef until needed)
	body     Value  // decoded Input.Body (undef until needed)

	// Cancellation bridges are armed lazily at the first checkpoint, so
	// short runs allocate no timer: until then the checkpoints (every
	// checkEvery steps) poll the deadline and the context.
	nextCheck int64
	armed     bool
	stopCtx   func() bool
	timer     *time.Timer
	entryArgs int // arguments already in the entry frame (a go() task)
	// Tasks (async.go). tasks are the go_async tasks this machine started
	// and not yet gathered (guarded by runShared.mu); parent is the machine
	// that started this one and self its task (nil for a run's root);
	// merged are the global slots its gathers merged, in order.
	tasks    map[string]*task
	parent   *Machine
	self     *child
	merged   []int
	mergedAt map[int]struct{}
	retVal   Value  // value returned by the entry frame (a task's result)
	resDict  dict   // reused addResult dict
	scratch  []byte // reused JSON buffer
}

// checkEvery is the number of steps between checkpoints of the slow path.
const checkEvery = 1 << 12

type cancelRec struct {
	gen   uint64
	cause error
}

type frame struct {
	fn   *compile.Func
	fi   int // index in Program funcs
	pc   int
	base int
}

type handler struct {
	frame int // index in frames
	sp    int
	pc    int
}

// NewMachine returns a Machine ready to Run programs.
func NewMachine() *Machine { return &Machine{} }

// Cancel stops the current run as soon as possible; Run returns an
// *EvalError wrapping ErrCanceled (or ErrTimeout when cause is ErrTimeout or
// context.DeadlineExceeded). It is safe to call from any goroutine; the first
// cause wins. A Cancel between runs has no effect on later runs.
func (m *Machine) Cancel(cause error) { m.cancelRun(m.gen.Load(), cause) }

func (m *Machine) cancelRun(gen uint64, cause error) {
	if cause == nil {
		cause = ErrCanceled
	}
	rec := &cancelRec{gen: gen, cause: cause}
	for {
		old := m.cancel.Load()
		if old != nil && old.gen == gen {
			return // first cause wins
		}
		if m.gen.Load() != gen {
			return // that run is over
		}
		if m.cancel.CompareAndSwap(old, rec) {
			if stop := m.hostStop.Load(); stop != nil {
				(*stop)()
			}
			if w := m.wake.Load(); w != nil {
				select {
				case *w <- struct{}{}:
				default:
				}
			}
			if sh := m.kids.Load(); sh != nil {
				sh.cancelAll(gen, cause) // checks gen under its lock
			}
			return
		}
	}
}

// runtimeError is an error raised inside the machine. Fatal errors (limits,
// cancellation, internal failures) are not catchable by try().
type runtimeError struct {
	msg   string
	cause error
	fatal bool
	child *EvalError // the error of a task, raised by gather
}

func (e *runtimeError) Error() string { return e.msg }
func (e *runtimeError) Unwrap() error { return e.cause }

func (m *Machine) errorf(format string, args ...any) error {
	return &runtimeError{msg: fmt.Sprintf(format, args...)}
}

func fatal(sentinel error) error {
	return &runtimeError{msg: sentinel.Error(), cause: sentinel, fatal: true}
}

func (m *Machine) memErr() error { return fatal(ErrMemoryLimit) }

// valueSize is the charge for one Value slot in a list.
const valueSize = 24

// charge accounts n bytes the script allocates against MaxMemoryBytes.
func (m *Machine) charge(n int64) error {
	if m.sh != nil {
		if m.sh.mem.Add(n) > m.lim.MaxMemoryBytes {
			return m.memErr()
		}
		return nil
	}
	m.mem += n
	if m.mem > m.lim.MaxMemoryBytes {
		return m.memErr()
	}
	return nil
}

func (m *Machine) chargeList(n int) error { return m.charge(int64(n)*valueSize + 32) }

// causeErr maps a cancellation cause to the error of the run.
func causeErr(cause error) error {
	var cf *childFailure
	switch {
	case errors.As(cause, &cf):
		return cf // a task failed: the run ends with its error
	case cause == nil:
		return fatal(ErrCanceled)
	case errors.Is(cause, ErrTimeout) || errors.Is(cause, context.DeadlineExceeded):
		return fatal(ErrTimeout)
	case errors.Is(cause, ErrCanceled) || errors.Is(cause, context.Canceled):
		return fatal(ErrCanceled)
	}
	return &runtimeError{msg: ErrCanceled.Error() + ": " + cause.Error(), cause: fmt.Errorf("%w: %w", ErrCanceled, cause), fatal: true}
}

// Run executes p with input in under the limits lim (zero fields take
// DefaultLimits). It returns the result of a successful run, or an
// *EvalError: a runtime error of the script (catchable errors that were not
// caught), a limit (errors.Is ErrStepLimit, ErrTimeout, ErrMemoryLimit,
// ErrCallDepth, ErrOutputLimit), cancellation (ErrCanceled) or an internal
// failure (ErrInternal, with the Go stack in GoStack).
func (m *Machine) Run(ctx context.Context, p *Program, in *Input, lim Limits) (res *Result, err error) {
	start := time.Now()
	if ctx == nil {
		ctx = context.Background()
	}
	if in == nil {
		in = &Input{}
	}
	if p == nil {
		return nil, errors.New("vm: Run with nil Program")
	}
	m.gen.Add(1)
	m.cancel.Store(nil)
	m.reset(ctx, p, in, lim.withDefaults())
	m.deadline = start.Add(m.lim.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(m.deadline) {
		m.deadline = d
	}
	if ctx.Err() != nil {
		return nil, m.evalError(causeErr(context.Cause(ctx)), syntax.Pos{})
	}
	defer func() {
		if m.armed {
			if m.stopCtx != nil {
				m.stopCtx()
			}
			m.timer.Stop()
			m.armed, m.stopCtx, m.timer = false, nil, nil
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, m.internalError(r)
		}
		m.stopChildren() // no task outlives its run
		m.release()
	}()

	if len(in.Variables) > 0 {
		if err := m.seedVariables(in.Variables); err != nil {
			return nil, m.evalError(err, syntax.Pos{})
		}
	}
	if err := m.exec(); err != nil {
		return nil, err
	}
	m.stopChildren() // before reading the results the tasks write to
	res, rerr := m.result()
	if rerr != nil {
		return nil, m.evalError(rerr, syntax.Pos{})
	}
	res.Stats = Stats{Steps: m.steps, Duration: time.Since(start), PeakMemory: m.mem} // tasks included (stopChildren)
	return res, nil
}

const initialStack = 256

// internalError turns a recovered panic into the run's error.
func (m *Machine) internalError(r any) *EvalError {
	pos := syntax.Pos{}
	if len(m.frames) > 0 {
		fr := m.frames[len(m.frames)-1]
		pos = fr.fn.PosAt(fr.pc - 1)
	}
	ee := m.evalError(&runtimeError{
		msg:   fmt.Sprintf("internal error: %v", r),
		cause: ErrInternal,
		fatal: true,
	}, pos)
	ee.GoStack = string(debug.Stack())
	return ee
}

func (m *Machine) reset(ctx context.Context, p *Program, in *Input, lim Limits) {
	m.ctx, m.prog, m.in, m.lim = ctx, p, in, lim
	m.steps, m.mem, m.outBytes = 0, 0, 0
	m.stepCap = lim.MaxSteps
	m.sh, m.entryArgs, m.retVal = nil, 0, None
	m.nextCheck = checkEvery
	main := p.funcs[0]
	need := main.NumLocals + main.MaxStack + initialStack
	if cap(m.stack) < need {
		m.stack = make([]Value, need)
	}
	m.stack = m.stack[:cap(m.stack)]
	if cap(m.frames) < lim.MaxCallDepth+1 {
		m.frames = make([]frame, 0, min(lim.MaxCallDepth+1, 1<<16))
	}
	m.frames = append(m.frames[:0], frame{fn: main, fi: 0})
	m.handlers = m.handlers[:0]
	ng := len(p.code.Globals)
	if cap(m.globals) < ng {
		m.globals = make([]Value, ng)
	}
	m.globals = m.globals[:ng]
	for i := range m.globals {
		m.globals[i] = undef
	}
	m.order = m.order[:0]
	if len(m.extra) > 0 {
		clear(m.extra)
	}
	m.extraN = m.extraN[:0]
	m.results = nil
	m.logs = nil
	m.errMsg = ""
	m.params, m.body = undef, undef
}

// release drops references so a pooled Machine does not keep values alive.
func (m *Machine) release() {
	clear(m.stack)
	clear(m.globals)
	clear(m.resDict.entries)
	m.resDict.entries = m.resDict.entries[:0]
	m.resDict.index = nil
	m.frames = m.frames[:0]
	m.ctx, m.prog, m.in = nil, nil, nil
	m.results, m.logs = nil, nil
	m.params, m.body, m.retVal = None, None, None
	m.sh = nil
}

// checkpoint runs every checkEvery steps: it polls the deadline and the
// context, and arms the timer and context bridges that set the cancel flag
// for the rest of the run.
func (m *Machine) checkpoint() error {
	m.nextCheck += checkEvery
	if !time.Now().Before(m.deadline) {
		return fatal(ErrTimeout)
	}
	if m.ctx.Err() != nil {
		return causeErr(context.Cause(m.ctx))
	}
	if !m.armed {
		m.armed = true
		gen, ctx := m.gen.Load(), m.ctx
		m.timer = time.AfterFunc(time.Until(m.deadline), func() { m.cancelRun(gen, ErrTimeout) })
		if ctx.Done() != nil {
			m.stopCtx = context.AfterFunc(ctx, func() { m.cancelRun(gen, context.Cause(ctx)) })
		}
	}
	return nil
}

// slot returns the global slot of name, creating one past the program's
// globals when create is set; -1 if there is none.
func (m *Machine) slot(name string, create bool) int {
	if i, ok := m.prog.globalIndex[name]; ok {
		return i
	}
	if i, ok := m.extra[name]; ok {
		return i
	}
	if !create {
		return -1
	}
	if m.extra == nil {
		m.extra = map[string]int{}
	}
	i := len(m.globals)
	m.globals = append(m.globals, undef)
	m.extra[name] = i
	m.extraN = append(m.extraN, name)
	return i
}

func (m *Machine) globalName(i int) string {
	if i < len(m.prog.code.Globals) {
		return m.prog.code.Globals[i]
	}
	return m.extraN[i-len(m.prog.code.Globals)]
}

func (m *Machine) setGlobal(i int, v Value) {
	if m.globals[i].k == kindUndef {
		m.order = append(m.order, int32(i))
	}
	m.globals[i] = v
}

func (m *Machine) seedVariables(data []byte) error {
	v, err := m.decodeJSON(data)
	if err != nil {
		return err
	}
	if v.k == KindNone {
		return nil
	}
	if v.k != KindDict {
		return m.errorf("variables must be a JSON object")
	}
	d := v.dict()
	for _, e := range d.entries {
		m.setGlobal(m.slot(e.key, true), e.val)
	}
	return nil
}

// result builds the Result of a finished run and checks the output limit.
func (m *Machine) result() (*Result, error) {
	res := &Result{}
	if i, ok := m.prog.globalIndex["_status"]; ok {
		if v := m.globals[i]; v.k == KindInt && v.i() >= 100 && v.i() <= 599 {
			res.Status = int(v.i())
		}
	}
	var err error
	buf := m.scratch[:0]
	if m.results == nil {
		buf = append(buf, "{}"...)
	} else if buf, err = m.appendJSON(buf, dictValue(m.results), 0); err != nil {
		return nil, err
	}
	if int64(len(buf))+m.outBytes > m.lim.MaxOutputBytes {
		return nil, fatal(ErrOutputLimit)
	}
	nres := len(buf)
	buf = append(buf, '{')
	for n, i := range m.order {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, m.globalName(int(i)))
		buf = append(buf, ':')
		if buf, err = m.appendJSON(buf, m.globals[i], 0); err != nil {
			return nil, err
		}
		if int64(len(buf))+m.outBytes > m.lim.MaxOutputBytes {
			return nil, fatal(ErrOutputLimit)
		}
	}
	buf = append(buf, '}')
	out := make([]byte, len(buf))
	copy(out, buf)
	if cap(buf) <= 64<<10 {
		m.scratch = buf[:0]
	}
	res.Result = out[:nres:nres]
	res.Variables = out[nres:]
	res.Logs = m.logs
	if w := m.prog.warnings; len(w) > 0 { // link warnings (deprecated imports) first
		res.Logs = append(append(make([]string, 0, len(w)+len(m.logs)), w...), m.logs...)
	}
	return res, nil
}

// evalError converts an error raised at pos in the current frame into an
// *EvalError with the call stack.
func (m *Machine) evalError(err error, pos syntax.Pos) *EvalError {
	if cf, ok := err.(*childFailure); ok {
		return cf.ee // a task's fatal error, with the task's position and stack
	}
	ee := &EvalError{File: m.prog.name, Msg: err.Error(), Pos: pos, cause: err}
	var re *runtimeError
	if errors.As(err, &re) {
		ee.Msg = re.msg
		ee.cause = re.cause
		ee.fatal = re.fatal
		if re.cause == nil {
			ee.cause = nil
		}
	}
	if len(m.frames) > 0 {
		ee.Stack = make([]Frame, len(m.frames))
		for i, fr := range m.frames {
			p := fr.fn.PosAt(fr.pc - 1)
			if i == len(m.frames)-1 && pos.IsValid() {
				p = pos
			}
			ee.Stack[i] = Frame{Func: fr.fn.Name, Pos: p}
		}
		if !pos.IsValid() {
			ee.Pos = ee.Stack[len(ee.Stack)-1].Pos
		}
	}
	if re != nil && re.child != nil {
		// A task's error raised by gather: where it happened in the task,
		// below the frames that reached the gather.
		ee.Stack = append(ee.Stack, re.child.Stack...)
		ee.Pos = re.child.Pos
	}
	if !ee.Pos.IsValid() {
		// Errors outside any instruction (input decoding) point at the start.
		ee.Pos = syntax.Pos{Line: 1, Col: 1}
	}
	return ee
}
