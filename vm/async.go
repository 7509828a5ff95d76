package vm

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/avapmesh/avap/vm/internal/compile"
)

// Concurrency (LANGUAGE.md Part A #12, Part B §9.5; doc/vm.md §7).
//
// go_async(id) ... end() and h = go(f, args...) start a child Machine on a
// new goroutine running the hidden function of the block (or f with its
// arguments) of the same Program. The child sees a snapshot of the globals
// (and of the arguments) taken when it starts: lists and dicts are deep
// copied, so neither side observes the other's later changes.
//
// All machines of one run share its budgets through runShared: steps are
// drawn from a pool in chunks of stepChunk, memory is charged to one atomic
// counter, output (addResult, addLog) goes to the run's result and logs
// under a mutex, and they share the deadline and the context. Until a run
// starts its first task none of this exists: the run's own machine counts
// steps and memory in plain fields, as before.
//
// Cancelling the run (timeout, context, Machine.Cancel, a limit) cancels
// every task, including one blocked in a Host call. A fatal error of a task
// (a limit, an internal error) stops the whole run with that error; any
// other error of a task is raised, catchable, by the gather that collects
// it. When Run returns every task still running has been cancelled and has
// ended: no goroutine outlives its run, and the variables of tasks that
// were never gathered are discarded.

// stepChunk is the number of steps a machine of a run with tasks draws from
// the run's pool at a time. A run with tasks executes at most
// Limits.MaxSteps steps in total; it may fail with ErrStepLimit having
// executed up to stepChunk-1 steps fewer per machine still holding part of
// a chunk.
const stepChunk = checkEvery

// minStepChunk is the first draw of a machine from the pool, and its draw
// after it blocked (yieldSteps); each draw doubles up to stepChunk. Tasks
// that run a few steps and wait (a fan-out of Host calls) then hold little
// of the pool between their start and their wait: 40 tasks drawing 4096
// each at once would exhaust MaxSteps 100,000 having run a few hundred.
const minStepChunk = 64

// childCost is charged to the memory budget for every task started, on top
// of its stack and the snapshot of the variables (a goroutine and a Machine).
const childCost = 8 << 10

// extraNameCost is charged per global name past the program's own copied
// into a task (its entry in the extra map and in extraN).
const extraNameCost = 80

// maxFreeChildren bounds the child machines a Machine keeps for reuse.
const maxFreeChildren = 8

// runShared is what the machines of one run share once it has tasks. It
// belongs to the run's root Machine and is reused by its later runs.
type runShared struct {
	root    *Machine
	rootGen uint64

	steps      atomic.Int64 // steps granted to all machines (never above MaxSteps)
	mem        atomic.Int64 // bytes charged by all machines
	childSteps atomic.Int64 // steps executed by tasks that ended

	wg sync.WaitGroup // running task goroutines

	mu       sync.Mutex       // guards the fields below, every machine's tasks, and the root's results, logs and outBytes
	tasks    map[string]*task // go() handles ("go:N", unique per run); go_async ids are in Machine.tasks
	live     []*child         // every task started in this run
	stopping bool             // the run is ending: tasks started now are cancelled at once
	goSeq    int
	free     []*Machine // machines of ended tasks, for reuse
}

// task is a go_async block or a go() call awaiting gather.
type task struct {
	c     *child // nil when the work already ran (see inlineTask)
	async bool   // go_async (its variables are merged) or go() (its result is returned)
	value Value  // result of work that already ran
}

// child is one task's machine and, once done is closed, its outcome.
type child struct {
	m     *Machine
	gen   uint64
	done  chan struct{}
	ready sync.Mutex  // locked at spawn, unlocked once the task is registered (or the run ends): it runs from then on
	went  atomic.Bool // start was called
	id    string      // its go_async id or go() handle, set before start

	result Value       // return value: the block's variables (a dict) or f's result
	merged []dictEntry // variables merged by the task's own gathers, as they were when it ended
	err    *EvalError  // catchable error of the task, raised at gather
	failed error       // fatal end of the task: the error gather returns
}

// childFailure is the cancellation cause a task that failed fatally gives
// its run: the run ends with the task's error.
type childFailure struct{ ee *EvalError }

func (c *childFailure) Error() string { return c.ee.Error() }
func (c *childFailure) Unwrap() error { return c.ee }

// errTaskStopped is the cause given to a task gather gave up on.
var errTaskStopped = errors.New("task stopped by gather timeout")

// share turns on the shared budgets of the current run; m is its root.
func (m *Machine) share() *runShared {
	sh := m.shared
	if sh == nil {
		sh = &runShared{}
		m.shared = sh
	}
	sh.mu.Lock() // a late cancelAll of an earlier run reads rootGen (cancelRun)
	sh.root, sh.rootGen = m, m.gen.Load()
	sh.mu.Unlock()
	sh.steps.Store(m.steps) // the root's allowance ends here (interrupt draws the next chunk)
	sh.mem.Store(m.mem)
	sh.childSteps.Store(0)
	sh.goSeq = 0
	m.stepCap = m.steps
	m.chunk = minStepChunk
	m.sh = sh
	m.kids.Store(sh)
	return sh
}

// reserve grants up to want steps from the run's pool; 0 when it is
// exhausted.
func (sh *runShared) reserve(max, want int64) int64 {
	for {
		g := sh.steps.Load()
		if g >= max {
			return 0
		}
		a := min(want, max-g)
		if sh.steps.CompareAndSwap(g, g+a) {
			return a
		}
	}
}

// yieldSteps gives the unused part of the machine's chunk back to the
// run's pool before it blocks (a Host call, a gather that waits), so that
// tasks waiting on the network do not hold steps the others need: 25
// blocked tasks would otherwise exhaust MaxSteps 100,000 having run a few
// hundred. Only from a command: m.steps is current there, and the
// dispatch loop reloads stepCap after a command (and after a catch).
func (m *Machine) yieldSteps() {
	if sh := m.sh; sh != nil {
		if left := m.stepCap - m.steps; left > 0 {
			sh.steps.Add(-left)
			m.stepCap = m.steps
		}
		m.chunk = minStepChunk
	}
}

// cancelAll cancels every task of run gen with cause. A call for a run
// that is over (a Cancel or timer of an earlier run of the root, racing
// with its end) does nothing: it must not stop the tasks of a later run.
func (sh *runShared) cancelAll(gen uint64, cause error) {
	sh.mu.Lock()
	if sh.rootGen != gen {
		sh.mu.Unlock()
		return
	}
	sh.stopping = true
	kids := append([]*child(nil), sh.live...)
	sh.mu.Unlock()
	for _, c := range kids {
		c.m.cancelRun(c.gen, cause)
	}
}

// spawnRef marks the value a spawn leaves on the stack for the
// <go_async>/<go> command that follows: an undef with a pointer, which
// user code can never make.
func spawnRef(c *child) Value { return Value{k: kindUndef, p: unsafe.Pointer(c)} }

func refChild(v Value) *child {
	if v.k == kindUndef && v.p != nil {
		return (*child)(v.p)
	}
	return nil
}

// spawn starts function fi of the program with args on a new machine and
// goroutine (the SPAWN instruction, see lowerSpawns).
func (m *Machine) spawn(fi int, args []Value) (Value, error) {
	sh := m.sh
	if sh == nil {
		sh = m.share()
	}
	fn := m.prog.funcs[fi]
	sh.mu.Lock()
	var cm *Machine
	if n := len(sh.free); n > 0 {
		cm, sh.free = sh.free[n-1], sh.free[:n-1]
	} else {
		cm = NewMachine()
	}
	sh.mu.Unlock()

	cm.gen.Add(1)
	cm.cancel.Store(nil)
	cm.ctx, cm.deadline, cm.prog, cm.in, cm.lim = m.ctx, m.deadline, m.prog, m.in, m.lim
	cm.sh = sh
	cm.steps, cm.stepCap, cm.mem, cm.outBytes = 0, 0, 0, 0
	cm.chunk = minStepChunk
	cm.nextCheck = checkEvery
	cm.armed = true // the root's bridges cancel the tasks; tasks poll at checkpoints
	need := fn.NumLocals + fn.MaxStack + initialStack
	if cap(cm.stack) < need {
		cm.stack = make([]Value, need)
	}
	cm.stack = cm.stack[:cap(cm.stack)]
	// The frames grow with the task's calls (CALL appends; the stack those
	// calls need is charged): preallocating MaxCallDepth frames per task, as
	// the root does once per Machine, would allocate up to 2 MiB per task
	// that the memory budget does not see.
	cm.frames = append(cm.frames[:0], frame{fn: fn, fi: fi})
	cm.handlers = cm.handlers[:0]
	cm.order = cm.order[:0]
	cm.results, cm.logs, cm.errMsg = nil, nil, ""
	cm.params, cm.body = undef, undef
	cm.retVal = None
	cm.parent = m
	clear(cm.tasks)
	cm.resetMerged()
	// The task's copies of the global slots and of the names past the
	// program's own (one per key of Input.Variables) are charged too: they
	// can be far larger than its stack.
	cost := int64(len(cm.stack)+len(m.globals))*valueSize + int64(len(m.extraN))*extraNameCost + childCost
	if err := m.charge(cost); err != nil {
		sh.recycle(cm)
		return None, err
	}

	// Snapshot of the variables and arguments.
	var memo map[unsafe.Pointer]Value
	if cap(cm.globals) < len(m.globals) {
		cm.globals = make([]Value, len(m.globals))
	}
	cm.globals = cm.globals[:len(m.globals)]
	for i, v := range m.globals {
		c, err := m.snapshot(v, &memo, 0)
		if err != nil {
			sh.recycle(cm)
			return None, err
		}
		cm.globals[i] = c
	}
	clear(cm.extra)
	if len(m.extra) > 0 {
		if cm.extra == nil {
			cm.extra = make(map[string]int, len(m.extra))
		}
		for k, v := range m.extra {
			cm.extra[k] = v
		}
	}
	cm.extraN = append(cm.extraN[:0], m.extraN...)
	nargs := min(len(args), fn.NumParams)
	for i := 0; i < nargs; i++ {
		c, err := m.snapshot(args[i], &memo, 0)
		if err != nil {
			sh.recycle(cm)
			return None, err
		}
		cm.stack[i] = c
	}
	cm.entryArgs = nargs

	c := &child{m: cm, gen: cm.gen.Load(), done: make(chan struct{})}
	c.ready.Lock()
	cm.self = c
	sh.mu.Lock()
	sh.live = append(sh.live, c)
	stopping := sh.stopping
	sh.wg.Add(1)
	sh.mu.Unlock()
	if stopping { // the run is ending: the task starts cancelled
		cm.cancelRun(c.gen, ErrCanceled)
	}
	go c.run(sh)
	return spawnRef(c), nil
}

// recycle returns an unused child machine to the free list.
func (sh *runShared) recycle(cm *Machine) {
	cm.release()
	clear(cm.tasks)
	cm.parent, cm.self = nil, nil
	cm.resetMerged()
	sh.mu.Lock()
	if len(sh.free) < maxFreeChildren && cap(cm.stack) <= 1<<16 {
		sh.free = append(sh.free, cm)
	}
	sh.mu.Unlock()
}

// start lets the task run: storeTask calls it once the task has its id,
// so that the task finds itself when it gathers its own id; the end of the
// run calls it for a task whose store never came.
func (c *child) start() {
	if c.went.CompareAndSwap(false, true) {
		c.ready.Unlock()
	}
}

// run executes the task on its goroutine and records its outcome.
func (c *child) run(sh *runShared) {
	cm := c.m
	defer sh.wg.Done()
	defer close(c.done)
	c.ready.Lock() // wait for start
	err := cm.execChild()
	sh.childSteps.Add(cm.steps)
	if left := cm.stepCap - cm.steps; left > 0 {
		sh.steps.Add(-left) // give back the rest of the chunk
	}
	if err == nil {
		c.result = cm.retVal
		c.merged = cm.mergedVars()
		return
	}
	if !err.fatal {
		c.err = err
		return
	}
	if rec := cm.cancel.Load(); rec != nil && rec.gen == c.gen {
		c.failed = causeErr(rec.cause) // stopped by its run or by gather: not the task's own failure
		return
	}
	cf := &childFailure{ee: err}
	c.failed = cf
	sh.root.cancelRun(sh.rootGen, cf)
}

// execChild runs a task's machine, turning a panic into an internal error.
func (m *Machine) execChild() (ee *EvalError) {
	defer func() {
		if r := recover(); r != nil {
			ee = m.internalError(r)
		}
	}()
	if err := m.exec(); err != nil {
		return err.(*EvalError)
	}
	return nil
}

// stopChildren cancels the tasks still running at the end of a run, waits
// for them and folds their cost into the root's counters.
func (m *Machine) stopChildren() {
	sh := m.sh
	if sh == nil {
		return
	}
	sh.cancelAll(sh.rootGen, ErrCanceled)
	sh.mu.Lock()
	for _, c := range sh.live {
		c.start()
	}
	sh.mu.Unlock()
	sh.wg.Wait()
	m.steps += sh.childSteps.Load()
	m.mem = sh.mem.Load()
	sh.mu.Lock()
	kids := sh.live
	sh.live = nil
	clear(sh.tasks)
	clear(m.tasks)
	sh.stopping = false
	sh.root, sh.rootGen = nil, 0 // runs are numbered from 1
	sh.mu.Unlock()
	for _, c := range kids {
		c.result, c.merged, c.err, c.failed = None, nil, nil, nil
		sh.recycle(c.m)
	}
	m.kids.Store(nil)
	m.sh = nil
}

// addTask registers a task under id in table (replacing, and stopping, an
// earlier task of the same id that was not gathered). table is the
// machine's own (go_async ids are scoped to the machine that starts them)
// or the run's (go() handles).
func (m *Machine) addTask(table *map[string]*task, id string, t *task) {
	sh := m.sh
	sh.mu.Lock()
	if *table == nil {
		*table = map[string]*task{}
	}
	old := (*table)[id]
	(*table)[id] = t
	sh.mu.Unlock()
	if old != nil && old.c != nil {
		old.c.m.cancelRun(old.c.gen, errTaskStopped)
	}
}

// storeTask handles <go_async>(id, mark, ref) and <go>(mark, ref): it
// registers the task started by the SPAWN before them and returns the
// handle of a go() call. Bytecode from elsewhere may run the work inline
// (CALL instead of SPAWN); its result is then kept as it is.
func (m *Machine) storeTask(async bool, args []Value) (Value, error) {
	last := None
	if len(args) > 0 {
		last = args[len(args)-1]
	}
	t := &task{c: refChild(last), async: async}
	if t.c == nil {
		t.value = defined(last)
		if async && t.value.k != KindDict {
			return None, m.errorf("go_async: bad block result")
		}
	}
	if async {
		id, err := m.toStr(defined(args[0]))
		if err != nil {
			if t.c != nil {
				t.c.m.cancelRun(t.c.gen, errTaskStopped)
				t.c.start()
			}
			return None, err
		}
		if m.sh == nil {
			m.share()
		}
		m.addTask(&m.tasks, id, t)
		if t.c != nil {
			t.c.id = id
			t.c.start()
		}
		return None, nil
	}
	if m.sh == nil {
		m.share()
	}
	m.sh.mu.Lock()
	m.sh.goSeq++
	id := "go:" + strconv.Itoa(m.sh.goSeq)
	m.sh.mu.Unlock()
	m.addTask(&m.sh.tasks, id, t)
	if t.c != nil {
		t.c.id = id
		t.c.start()
	}
	return String(id), nil
}

// takeTask finds task id for a gather by m and removes it from its table:
// first among the go_async tasks m started, then among those its ancestors
// (the task that started m, up to the run's root) started, then among the
// run's go() handles. nil when there is none; an error when it is m itself
// (found, or not found any more because another gather took it, but the
// id m was started with).
func (m *Machine) takeTask(id string) (*task, error) {
	sh := m.sh
	if sh == nil {
		return nil, nil
	}
	self := func() error {
		return m.errorf("gather: task %s cannot wait for itself", string(appendPyQuote(nil, id)))
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var t *task
	var table map[string]*task
	for o := m; o != nil && t == nil; o = o.parent {
		table = o.tasks
		t = table[id]
	}
	if t == nil {
		table = sh.tasks
		if t = table[id]; t == nil {
			if m.self != nil && m.self.id == id {
				return nil, self()
			}
			return nil, nil
		}
	}
	if t.c != nil && t.c == m.self {
		return nil, self()
	}
	delete(table, id)
	return t, nil
}

// gather returns the result of go() handle id, or merges the variables of
// go_async block id into the globals (names starting with "_" excluded)
// and returns None, after waiting for the task up to the timeout
// (args[1]: seconds for go_async, milliseconds for go; None or <= 0 = up
// to the run's deadline). An unknown id goes to the Host when there is one.
func (m *Machine) gather(idv Value, args []Value) (Value, error) {
	id, err := m.toStr(idv)
	if err != nil {
		return None, err
	}
	t, err := m.takeTask(id)
	if err != nil {
		return None, err
	}
	if t == nil {
		if m.in.Host != nil {
			return m.hostCall("gather", args)
		}
		return None, m.errorf("gather: no task %s", string(appendPyQuote(nil, id)))
	}
	v := t.value
	if c := t.c; c != nil {
		if err := m.await(id, t, args); err != nil {
			return None, err
		}
		if c.failed != nil {
			return None, c.failed
		}
		if c.err != nil {
			return None, &runtimeError{msg: c.err.Msg, cause: c.err.cause, child: c.err}
		}
		v = c.result
	}
	if !t.async {
		return v, nil
	}
	if v.k != KindDict {
		return None, m.errorf("go_async: bad block result")
	}
	// The block's scope: what its own gathers merged, overlaid by its locals.
	if t.c != nil {
		m.mergeVars(t.c.merged)
	}
	m.mergeVars(v.dict().entries)
	return None, nil
}

// mergeVars sets the globals of a gathered block's variables (names
// starting with "_" excluded). In a task they are also noted as part of
// the task's scope, so that gathering the task merges them too.
func (m *Machine) mergeVars(entries []dictEntry) {
	for _, e := range entries {
		if strings.HasPrefix(e.key, "_") {
			continue
		}
		i := m.slot(e.key, true)
		m.setGlobal(i, e.val)
		if m.self == nil {
			continue
		}
		if m.mergedAt == nil {
			m.mergedAt = map[int]struct{}{}
		}
		if _, ok := m.mergedAt[i]; !ok {
			m.mergedAt[i] = struct{}{}
			m.merged = append(m.merged, i)
		}
	}
}

// mergedVars returns the variables a task's gathers merged, with their
// values when it ended.
func (m *Machine) mergedVars() []dictEntry {
	if len(m.merged) == 0 {
		return nil
	}
	out := make([]dictEntry, 0, len(m.merged))
	for _, i := range m.merged {
		if v := m.globals[i]; v.k != kindUndef {
			out = append(out, dictEntry{m.globalName(i), v})
		}
	}
	return out
}

// resetMerged forgets the variables merged by a task's gathers.
func (m *Machine) resetMerged() {
	m.merged = m.merged[:0]
	clear(m.mergedAt)
}

// await waits for task t to end, up to gather's timeout and the run's
// deadline. On timeout the task is cancelled and a catchable error raised.
func (m *Machine) await(id string, t *task, args []Value) error {
	c := t.c
	select {
	case <-c.done:
		return nil
	default:
	}
	limit, err := m.gatherLimit(args)
	if err != nil {
		c.m.cancelRun(c.gen, errTaskStopped)
		return err
	}
	unit, what := float64(time.Second), "s"
	if !t.async {
		unit, what = float64(time.Millisecond), "ms"
	}
	wait := time.Until(m.deadline)
	own := false
	if limit > 0 && limit*unit < float64(wait) {
		wait, own = time.Duration(limit*unit), true
	}
	wake := m.wakeChan()
	select { // drop a wake-up left from before
	case <-wake:
	default:
	}
	if rec := m.cancel.Load(); rec != nil && rec.gen == m.gen.Load() {
		return causeErr(rec.cause)
	}
	m.yieldSteps()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-c.done:
		return nil
	case <-timer.C:
		select {
		case <-c.done: // ended just in time
			return nil
		default:
		}
		if !own {
			return fatal(ErrTimeout)
		}
		c.m.cancelRun(c.gen, errTaskStopped)
		return m.errorf("gather: task %s did not finish within %s%s", string(appendPyQuote(nil, id)),
			strconv.FormatFloat(limit, 'f', -1, 64), what)
	case <-wake:
		if rec := m.cancel.Load(); rec != nil && rec.gen == m.gen.Load() {
			return causeErr(rec.cause)
		}
		return fatal(ErrCanceled)
	case <-m.ctx.Done():
		return causeErr(context.Cause(m.ctx))
	}
}

// gatherLimit reads gather's timeout argument; 0 means none.
func (m *Machine) gatherLimit(args []Value) (float64, error) {
	if len(args) < 2 {
		return 0, nil
	}
	var limit float64
	switch v := args[1]; v.k {
	case KindInt:
		limit = float64(v.i())
	case KindFloat:
		limit = v.f()
	case KindString:
		f, err := strconv.ParseFloat(v.str(), 64)
		if err != nil {
			return 0, m.errorf("gather: timeout must be a number, not %s", string(appendPyQuote(nil, v.str())))
		}
		limit = f
	}
	if !(limit > 0) { // also NaN
		return 0, nil
	}
	return limit, nil
}

// wakeChan returns the channel cancelRun signals while the machine waits.
func (m *Machine) wakeChan() chan struct{} {
	if p := m.wake.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{}, 1)
	m.wake.Store(&ch)
	return ch
}

// snapshot copies v for another machine: lists and dicts are deep-copied
// (charging memory), sharing and cycles within one snapshot are kept
// through memo; other values are immutable and shared.
func (m *Machine) snapshot(v Value, memo *map[unsafe.Pointer]Value, depth int) (Value, error) {
	if v.k != KindList && v.k != KindDict {
		return v, nil
	}
	if c, ok := (*memo)[v.p]; ok {
		return c, nil
	}
	if depth > maxNest {
		return None, m.errorf("value nested too deeply")
	}
	if *memo == nil {
		*memo = map[unsafe.Pointer]Value{}
	}
	if v.k == KindList {
		src := v.list()
		if err := m.chargeList(len(src.elems)); err != nil {
			return None, err
		}
		nl := &list{elems: make([]Value, len(src.elems)), tuple: src.tuple}
		out := listValue(nl)
		(*memo)[v.p] = out
		for i, e := range src.elems {
			c, err := m.snapshot(e, memo, depth+1)
			if err != nil {
				return None, err
			}
			nl.elems[i] = c
		}
		return out, nil
	}
	d := v.dict()
	if err := m.charge(int64(len(d.entries))*64 + 64); err != nil {
		return None, err
	}
	nd := newDict(len(d.entries))
	out := dictValue(nd)
	(*memo)[v.p] = out
	for _, e := range d.entries {
		c, err := m.snapshot(e.val, memo, depth+1)
		if err != nil {
			return None, err
		}
		nd.entries = append(nd.entries, dictEntry{e.key, c})
	}
	nd.reindex()
	return out, nil
}

// opSpawn is a machine-only instruction: SPAWN A B runs function A with
// the B arguments on the stack as a task and pushes its reference. It never
// appears in encoded bytecode: lowerSpawns makes it from the compiler's
// CALL A B followed by <go_async> or <go> when a Program is loaded.
const opSpawn = compile.Op(0xFF)

// lowerSpawns returns the functions of a program with the calls that start
// tasks turned into SPAWN. Functions without tasks are shared.
func lowerSpawns(funcs []*compile.Func) []*compile.Func {
	out := funcs
	for fi, f := range funcs {
		var code []compile.Instr
		for pc := 0; pc+1 < len(f.Code); pc++ {
			in, next := f.Code[pc], f.Code[pc+1]
			if in.Op() != compile.CALL || next.Op() != compile.CMD || next.B() == 0 ||
				(next.A() != compile.CmdAsyncStore && next.A() != compile.CmdGoStore) {
				continue
			}
			if code == nil {
				code = append([]compile.Instr(nil), f.Code...)
			}
			code[pc] = compile.MakeInstr(opSpawn, in.A(), in.B())
		}
		if code == nil {
			continue
		}
		if &out[0] == &funcs[0] {
			out = append([]*compile.Func(nil), funcs...)
		}
		nf := *f
		nf.Code = code
		out[fi] = &nf
	}
	return out
}
