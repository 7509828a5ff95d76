package vm

import (
	"strconv"
	"time"
)

// The work of go_async and go() runs to completion where it is started
// (doc/vm.md §7), so gather's timeout is applied to what a concurrent run
// would have seen: the task ran for took = end-start, in parallel with the
// main flow that ran between its end and the gather; it would still be
// running at the gather's deadline when took > main + timeout. Then gather
// raises a catchable error and the task's results are dropped. A task that
// never ends (a runaway loop) is stopped by the run's own limits, which it
// shares, so it never outlives its run.

// timed records the start mark (args[mark], when the call has n
// arguments: programs compiled before marks existed have none) and the end
// of a task.
func timed(t task, args []Value, n, mark int) task {
	if len(args) == n && args[mark].k == KindInt {
		t.start, t.end = args[mark].i(), time.Now().UnixNano()
	}
	return t
}

// gatherTimeout applies gather(id, timeout): seconds for a go_async block,
// milliseconds for a go() handle (LANGUAGE.md §9.5, Part A #12). A missing,
// None or non-positive timeout waits for ever.
func (m *Machine) gatherTimeout(id string, t task, args []Value) error {
	if t.start == 0 || len(args) < 2 {
		return nil
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
			return m.errorf("gather: timeout must be a number, not %s", string(appendPyQuote(nil, v.str())))
		}
		limit = f
	default:
		return nil
	}
	if limit <= 0 {
		return nil
	}
	unit, what := float64(time.Second), "s"
	if t.vars == nil {
		unit, what = float64(time.Millisecond), "ms"
	}
	took := t.end - t.start
	mainFlow := time.Now().UnixNano() - t.end
	if float64(took) > float64(mainFlow)+limit*unit {
		return m.errorf("gather: task %s did not finish within %s%s", string(appendPyQuote(nil, id)),
			strconv.FormatFloat(limit, 'f', -1, 64), what)
	}
	return nil
}
