// Package vm compiles and runs AVAP scripts.
//
// The language is specified in LANGUAGE.md (Part A decisions, Part B
// semantics); vm/doc/vm.md documents this implementation: the bytecode and
// its encoding, the limits, and every built-in command.
//
// # Compiling
//
// Compile parses a script (package vm/syntax), resolves names and compiles
// it to bytecode (package vm/internal/compile). It refuses sources larger
// than CompileOptions.MaxSourceBytes and nesting deeper than MaxNesting.
// Syntax and compile errors come back together as a syntax.ErrorList,
// sorted, each with a line and column. Unknown command names are not
// compile errors: calling one is a runtime error ("command not found: X",
// wrapping ErrUnknownCommand) that try() can catch.
//
// A *Program is immutable and safe for concurrent use. MarshalBinary
// encodes it ("AVBC" magic, format version, source hash, code);
// UnmarshalProgram decodes and verifies an encoding, so a registry can
// cache compiled programs. Commands and SideEffectFree describe what a
// program may call.
//
// # Running
//
// A Machine runs one program at a time and can be reused (pool it). Run
// takes the request (Input: query string, params object, JSON body, form
// fields, pre-seeded variables, a Host for outside commands, the time zone)
// and per-run Limits, and returns a Result: the HTTP status set through
// _status, the JSON object built by addResult, the global variables as
// JSON, and the log lines.
//
// Every run is bounded: MaxSteps counts instructions; Timeout and the
// context's deadline stop the run through an atomic cancel flag that the
// dispatch loop checks once per instruction (Machine.Cancel sets it from
// any goroutine); MaxMemoryBytes is charged for every value the script
// allocates (strings, lists, dicts, decoded JSON, templates) before it is
// allocated; MaxCallDepth bounds user function calls; MaxOutputBytes bounds
// result, variables and logs. Limits are per run, shared by the tasks the
// run starts with go_async and go() (real goroutines, which never outlive
// Run; see doc/vm.md §7); there is no global state.
//
// # Errors
//
// Run returns an *EvalError for a runtime error that was not caught: Msg,
// the position (Pos) and the call stack (Stack, outermost first; Backtrace
// formats it). Limit and cancellation errors wrap ErrStepLimit, ErrTimeout,
// ErrMemoryLimit, ErrCallDepth, ErrOutputLimit or ErrCanceled (test with
// errors.Is) and cannot be caught by try(). A panic inside the machine or a
// Host is recovered and returned as an EvalError wrapping ErrInternal, with
// the Go stack in GoStack for the caller to log.
//
// # Values
//
// Value is the machine's value: None, bool, int (int64, overflow is an
// error), float (float64), string, list and dict (string keys, insertion
// order). Ints, floats, bools and None never allocate. Host implementations
// read arguments with Kind, AsInt, AsString, Index, Get, Keys... and build
// results with the constructors, FromGo or ParseJSON.
package vm
