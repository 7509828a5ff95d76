package vm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/avapmesh/avap/vm/syntax"
)

// ErrStepLimit is returned (wrapped in *EvalError) when a run executes more
// instructions than Limits.MaxSteps.
var ErrStepLimit = errors.New("step limit exceeded")

// ErrTimeout is returned when a run exceeds Limits.Timeout or the deadline of
// its context.
var ErrTimeout = errors.New("execution timeout")

// ErrMemoryLimit is returned when the values a run allocates exceed
// Limits.MaxMemoryBytes.
var ErrMemoryLimit = errors.New("memory limit exceeded")

// ErrCallDepth is returned when user function calls nest deeper than
// Limits.MaxCallDepth.
var ErrCallDepth = errors.New("call depth exceeded")

// ErrOutputLimit is returned when result, variables and logs together
// exceed Limits.MaxOutputBytes.
var ErrOutputLimit = errors.New("output limit exceeded")

// ErrCanceled is returned when a run was stopped by Machine.Cancel or by
// cancellation of its context.
var ErrCanceled = errors.New("execution canceled")

// ErrUnknownCommand is wrapped by the runtime error of a call to a command
// or function that does not exist.
var ErrUnknownCommand = errors.New("command not found")

// ErrNotAvailable is wrapped by the runtime error of an outside command
// (HTTP, database, concurrency...) when the run has no Host for it.
var ErrNotAvailable = errors.New("command not available")

// ErrInternal is wrapped by the error of a panic recovered inside Run.
var ErrInternal = errors.New("internal error")

// Frame is one entry of the call stack of a runtime error.
type Frame struct {
	Func string     // function name; "" for the top level of the script
	Pos  syntax.Pos // position of the call (or of the error in the innermost frame)
}

// EvalError is a runtime error. Limit failures wrap one of the Err*
// sentinels; test them with errors.Is.
type EvalError struct {
	File    string     // script name given to Compile
	Msg     string     // message without position
	Pos     syntax.Pos // where the error happened
	Stack   []Frame    // call stack, outermost first; the last frame is where the error happened
	GoStack string     // Go stack trace of a recovered panic (for the caller to log); else ""
	cause   error
	fatal   bool // a limit, cancellation or internal error (not catchable)
}

// Error returns "file:line:col: msg".
func (e *EvalError) Error() string {
	if e.Pos.IsValid() {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the sentinel or underlying error, if any.
func (e *EvalError) Unwrap() error { return e.cause }

// Backtrace returns the message followed by one line per frame,
// innermost first, in the style of a Python traceback.
func (e *EvalError) Backtrace() string {
	var b strings.Builder
	b.WriteString(e.Error())
	for i := len(e.Stack) - 1; i >= 0; i-- {
		f := e.Stack[i]
		name := f.Func
		if name == "" {
			name = "<main>"
		}
		fmt.Fprintf(&b, "\n\tat %s (%s:%d:%d)", name, e.File, f.Pos.Line, f.Pos.Col)
	}
	return b.String()
}
