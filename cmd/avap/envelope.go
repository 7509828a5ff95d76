package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/syntax"
)

// envelope is the JSON body `avap run` prints; it has the shape of the
// HTTP API's response (DESIGN.md "HTTP API") without the transport fields
// (stats, request_id). Codes match bus/codes.go; when the bus package
// settles this may move there.
type envelope struct {
	Success   bool            `json:"success"`
	Result    json.RawMessage `json:"result,omitempty"`
	Variables json.RawMessage `json:"variables,omitempty"`
	Logs      []string        `json:"logs,omitempty"`
	Error     string          `json:"error,omitempty"`
	Code      string          `json:"code,omitempty"`
	Position  *position       `json:"position,omitempty"`
	Stack     []frame         `json:"stack,omitempty"`
}

// frame is one entry of the call stack of a runtime error, as in the HTTP
// error envelope: innermost first, the top level named "<main>".
type frame struct {
	Function string `json:"function"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
}

// position is a 1-based line and column in the script.
type position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// MarshalJSON writes the success shape (result, variables, logs always
// present) or the error shape (error, code, position when known).
func (e *envelope) MarshalJSON() ([]byte, error) {
	if e.Success {
		return json.Marshal(struct {
			Success   bool            `json:"success"`
			Result    json.RawMessage `json:"result"`
			Variables json.RawMessage `json:"variables"`
			Logs      []string        `json:"logs"`
		}{true, nonNullObject(e.Result), nonNullObject(e.Variables), nonNilLogs(e.Logs)})
	}
	return marshalNoEscape(struct {
		Success  bool      `json:"success"`
		Error    string    `json:"error"`
		Code     string    `json:"code"`
		Position *position `json:"position,omitempty"`
		Stack    []frame   `json:"stack,omitempty"`
	}{false, e.Error, e.Code, e.Position, e.Stack})
}

// marshalNoEscape is json.Marshal without HTML escaping, so "<main>" stays
// readable (writeEnvelope turns escaping off for the same reason).
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeEnvelope writes env as indented JSON and a newline.
func writeEnvelope(w io.Writer, env *envelope) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(env)
}

// errorEnvelopeFor maps a Compile or Run error to the error envelope.
func errorEnvelopeFor(err error) *envelope {
	env := &envelope{Success: false, Error: err.Error(), Code: errorCode(err)}
	var list syntax.ErrorList
	var ee *vm.EvalError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		env.Error = list[0].Msg
		env.Position = &position{Line: int(list[0].Pos.Line), Column: int(list[0].Pos.Col)}
	case errors.As(err, &ee):
		env.Error = ee.Msg
		if ee.Pos.IsValid() {
			env.Position = &position{Line: int(ee.Pos.Line), Column: int(ee.Pos.Col)}
		}
		for _, f := range executor.StackOf(ee) {
			env.Stack = append(env.Stack, frame{Function: f.Func, Line: f.Line, Column: f.Col})
		}
	}
	return env
}

// errorCode names the wire code of a script error.
func errorCode(err error) string {
	var list syntax.ErrorList
	switch {
	case errors.As(err, &list):
		return "AVAP_SYNTAX"
	case errors.Is(err, vm.ErrStepLimit):
		return "AVAP_STEP_LIMIT"
	case errors.Is(err, vm.ErrTimeout):
		return "AVAP_TIMEOUT"
	case errors.Is(err, vm.ErrMemoryLimit):
		return "AVAP_MEMORY_LIMIT"
	case errors.Is(err, vm.ErrCallDepth):
		return "AVAP_CALL_DEPTH"
	case errors.Is(err, vm.ErrOutputLimit):
		return "AVAP_OUTPUT_LIMIT"
	case errors.Is(err, vm.ErrCanceled):
		return "AVAP_CANCELED"
	case errors.Is(err, vm.ErrUnknownCommand):
		return "AVAP_UNKNOWN_COMMAND"
	case errors.Is(err, vm.ErrNotAvailable):
		return "AVAP_NOT_AVAILABLE"
	case errors.Is(err, vm.ErrInternal):
		return "AVAP_INTERNAL"
	default:
		var ee *vm.EvalError
		if errors.As(err, &ee) {
			return "AVAP_RUNTIME"
		}
		return "AVAP_SYNTAX" // source too large or not compilable
	}
}
