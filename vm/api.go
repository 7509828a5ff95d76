package vm

import (
	"context"
	"encoding/json"
	"time"
)

// CompileOptions bounds the work Compile may do on one source.
type CompileOptions struct {
	MaxSourceBytes int // 0 = default 1 MiB
	MaxNesting     int // 0 = default 200 block/expression nesting levels
	// Importer resolves import() and include() (see import.go); or nil,
	// and a script using them fails to compile.
	Importer Importer
}

// Limits bound one run. Zero fields mean "use DefaultLimits()".
type Limits struct {
	MaxSteps       int64         // instructions
	Timeout        time.Duration // wall clock (ctx deadline also applies)
	MaxMemoryBytes int64         // bytes of values the script allocates
	MaxCallDepth   int           // nested user function calls
	MaxOutputBytes int64         // size of result+variables+logs JSON
}

// DefaultLimits returns the limits used for zero fields of Limits:
// 10,000,000 steps, 5s, 64 MiB, call depth 200, 4 MiB output.
func DefaultLimits() Limits {
	return Limits{
		MaxSteps:       10_000_000,
		Timeout:        5 * time.Second,
		MaxMemoryBytes: 64 << 20,
		MaxCallDepth:   200,
		MaxOutputBytes: 4 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxMemoryBytes <= 0 {
		l.MaxMemoryBytes = d.MaxMemoryBytes
	}
	if l.MaxCallDepth <= 0 {
		l.MaxCallDepth = d.MaxCallDepth
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	return l
}

// Param is one name/value pair of query string or form, in request order.
type Param struct{ Name, Value string }

// Input is everything a run may read from its request.
type Input struct {
	Path      []Param         // path parameters of a deployed endpoint route (addParam looks here first; not in getQueryParamList)
	Query     []Param         // query string in order (addParam source 1, getQueryParamList)
	Params    json.RawMessage // JSON object `params` of the body (source 2); or nil
	Body      json.RawMessage // whole JSON body object; keys other than script/variables/params/limits/command/id/items are source 3; or nil
	Form      []Param         // form fields (source 4)
	Variables json.RawMessage // JSON object pre-seeding globals (AVAP Lite `variables`); or nil
	Host      Host            // outside commands; nil = they fail with ErrNotAvailable
	Location  *time.Location  // zone for dates; nil = UTC
}

// Host implements commands that leave the process (RequestGet, RequestPost,
// ormDirect, ormCheckTable, ormAccess*, avapConnector, registerEndpoint,
// go, gather ...). args are the resolved argument values in source order
// (an empty slot is None). The returned value is stored in the command's
// target variable (its last parameter) and in the assignment target.
//
// The tasks of one run (go_async blocks, go() calls) run on their own
// goroutines, so Call may be called concurrently from several goroutines of
// the same run: implementations must be safe for that. Call must return
// soon after ctx ends: Run cancels its tasks and waits for them.
type Host interface {
	Call(ctx context.Context, command string, args []Value) (Value, error)
}

// Result is what a successful run produced. JSON fields are ready to
// splice into the response.
type Result struct {
	Status    int             // from _status when it holds an int 100..599; else 0
	Result    json.RawMessage // JSON object of addResult values, in first-call order
	Variables json.RawMessage // JSON object of global variables at the end
	Logs      []string        // addLog/log lines in order
	Stats     Stats           // cost of the run
}

// Stats describes the cost of one run.
type Stats struct {
	Steps      int64         // instructions executed
	Duration   time.Duration // wall clock of Run
	PeakMemory int64         // bytes charged to the memory budget (never credited back, so the total the run allocated)
}
