package bus

import (
	"encoding/json"
	"fmt"
	"time"
)

// EnvelopeVersion is the major version of the request and reply envelopes
// this build writes and reads. Compatible additions append fields without
// changing it; readers ignore trailing fields they do not know and treat
// missing trailing fields as zero. An incompatible change bumps it, and a
// reader refuses a major it does not know with ErrUnsupportedVersion.
const EnvelopeVersion = 1

// Param is one name/value pair of a query string or form, in request order.
type Param struct {
	Name  string
	Value string
}

// Limits are the limits a request asks for. Zero fields mean "the
// executor's default"; the executor caps every field at its maxima.
type Limits struct {
	MaxSteps       int64         // instructions
	Timeout        time.Duration // wall clock of the run
	MaxMemoryBytes int64         // bytes of values the script allocates
	MaxCallDepth   int64         // nested user function calls
	MaxOutputBytes int64         // size of result+variables+logs JSON
}

// Request asks an executor to run a script, or (on CompileSubject) to
// compile and store one under a name.
//
// Exactly one of Script and Command is set for a run. JSON fields hold raw
// JSON text exactly as the client sent it; the executor hands them to the
// VM without re-encoding.
type Request struct {
	Version          int             // envelope major version; 0 is written as EnvelopeVersion
	ID               string          // request id, echoed in logs and the HTTP response
	Lane             Lane            // lane the request was published on
	Name             string          // script or file name for messages; or ""
	Script           string          // inline source; or ""
	Command          string          // name of a stored script; or ""
	CommandVersion   string          // version (range) of Command; or "" for the latest
	SourceHash       []byte          // sha256 of Script when the sender knows it; or nil
	Query            []Param         // query string, in order
	Form             []Param         // form fields, in order
	Params           json.RawMessage // JSON object `params`; or nil
	Body             json.RawMessage // whole JSON body object; or nil
	Variables        json.RawMessage // JSON object pre-seeding globals; or nil
	Limits           Limits          // requested limits; zero fields = defaults
	DeadlineUnixNano int64           // caller's deadline; 0 = none
	Capabilities     Capability      // outside-world permissions of the run; 0 = all (capability.go)
	Path             []Param         // path parameters of a deployed route ({id} segments), in order
}

// Deadline returns the caller's deadline; ok is false when there is none.
func (r *Request) Deadline() (t time.Time, ok bool) {
	if r.DeadlineUnixNano <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, r.DeadlineUnixNano), true
}

// Stats is the cost of one run.
type Stats struct {
	Steps      int64 // instructions executed
	DurationUS int64 // wall clock of the run, microseconds
	PeakMemory int64 // highest memory charge, bytes
}

// Reply is an executor's answer to a Request.
type Reply struct {
	Version        int             // envelope major version; 0 is written as EnvelopeVersion
	Success        bool            // the script ran to completion
	Status         int             // HTTP status: `_status` of a successful run (0 = 200), or the code's status
	Code           Code            // wire code of a failure; or ""
	Error          string          // message of a failure; or ""
	Line, Col      int             // position of a script error; or 0
	Result         json.RawMessage // JSON object of addResult values; or nil
	Variables      json.RawMessage // JSON object of the globals at the end; or nil
	Logs           []string        // log lines in order
	Stats          Stats           // cost of the run
	ExecutorID     string          // id of the executor that answered
	SideEffectFree bool            // the program calls no outside command, so a re-run is harmless
	Stack          []StackFrame    // AVAP call stack of a runtime error, innermost first, at most MaxStackFrames; or nil
}

// MaxStackFrames bounds Reply.Stack: writers keep the innermost frames and
// readers skip frames past this many.
const MaxStackFrames = 32

// StackFrame is one frame of the AVAP call stack of a runtime error.
type StackFrame struct {
	Func      string // function name; "<main>" (or the script name) for the top level
	Line, Col int    // position of the error (innermost frame) or of the call
}

// Err returns the failure of r as a *Error, or nil for a success.
func (r *Reply) Err() error {
	if r.Success {
		return nil
	}
	e := NewError(r.Code, r.Error)
	if r.Status != 0 {
		e.Status = r.Status
	}
	return e
}

// Request wire layout: a msgpack array of these fields, in this order.
const (
	reqVersion = iota
	reqID
	reqLane
	reqName
	reqScript
	reqCommand
	reqCommandVersion
	reqSourceHash
	reqQuery
	reqForm
	reqParams
	reqBody
	reqVariables
	reqLimits
	reqDeadline
	reqCapabilities
	reqPath
	reqFields // number of fields this version writes
)

// Reply wire layout.
const (
	repVersion = iota
	repSuccess
	repStatus
	repCode
	repError
	repLine
	repCol
	repResult
	repVariables
	repLogs
	repStats
	repExecutorID
	repSideEffectFree
	repStack
	repFields
)

func version(v int) int64 {
	if v == 0 {
		return EnvelopeVersion
	}
	return int64(v)
}

// AppendMsgpack appends the msgpack encoding of r to b.
func (r *Request) AppendMsgpack(b []byte) []byte {
	b = appendArrayHeader(b, reqFields)
	b = appendInt(b, version(r.Version))
	b = appendString(b, r.ID)
	b = appendString(b, string(r.Lane))
	b = appendString(b, r.Name)
	b = appendString(b, r.Script)
	b = appendString(b, r.Command)
	b = appendString(b, r.CommandVersion)
	b = appendBytes(b, r.SourceHash)
	b = appendParams(b, r.Query)
	b = appendParams(b, r.Form)
	b = appendBytes(b, r.Params)
	b = appendBytes(b, r.Body)
	b = appendBytes(b, r.Variables)
	b = appendArrayHeader(b, 5)
	b = appendInt(b, r.Limits.MaxSteps)
	b = appendInt(b, int64(r.Limits.Timeout))
	b = appendInt(b, r.Limits.MaxMemoryBytes)
	b = appendInt(b, r.Limits.MaxCallDepth)
	b = appendInt(b, r.Limits.MaxOutputBytes)
	b = appendInt(b, r.DeadlineUnixNano)
	b = appendInt(b, int64(r.Capabilities))
	return appendParams(b, r.Path)
}

// Params travel as a flat array name, value, name, value...
func appendParams(b []byte, ps []Param) []byte {
	b = appendArrayHeader(b, 2*len(ps))
	for i := range ps {
		b = appendString(b, ps[i].Name)
		b = appendString(b, ps[i].Value)
	}
	return b
}

// MarshalMsgpack implements msgpack.Marshaler of github.com/vmihailenco/msgpack/v5.
func (r *Request) MarshalMsgpack() ([]byte, error) { return r.AppendMsgpack(nil), nil }

// UnmarshalMsgpack decodes b into r, replacing its contents. The JSON
// fields and SourceHash alias b (no copy): b must not change while r is in
// use. It implements msgpack.Unmarshaler.
func (r *Request) UnmarshalMsgpack(b []byte) error {
	*r = Request{}
	rd := reader{b: b}
	n := rd.arrayLen()
	if rd.err != nil || n == 0 {
		return fmt.Errorf("decode request: %w", ErrMalformed)
	}
	for i := 0; i < n && rd.err == nil; i++ {
		switch i {
		case reqVersion:
			r.Version = int(rd.int())
			if rd.err == nil && r.Version != EnvelopeVersion {
				return fmt.Errorf("decode request: %w: %d", ErrUnsupportedVersion, r.Version)
			}
		case reqID:
			r.ID = rd.string()
		case reqLane:
			r.Lane = Lane(rd.string())
		case reqName:
			r.Name = rd.string()
		case reqScript:
			r.Script = rd.string()
		case reqCommand:
			r.Command = rd.string()
		case reqCommandVersion:
			r.CommandVersion = rd.string()
		case reqSourceHash:
			r.SourceHash = rd.bytes()
		case reqQuery:
			r.Query = rd.params()
		case reqForm:
			r.Form = rd.params()
		case reqParams:
			r.Params = rd.bytes()
		case reqBody:
			r.Body = rd.bytes()
		case reqVariables:
			r.Variables = rd.bytes()
		case reqLimits:
			m := rd.arrayLen()
			for j := 0; j < m && rd.err == nil; j++ {
				switch j {
				case 0:
					r.Limits.MaxSteps = rd.int()
				case 1:
					r.Limits.Timeout = time.Duration(rd.int())
				case 2:
					r.Limits.MaxMemoryBytes = rd.int()
				case 3:
					r.Limits.MaxCallDepth = rd.int()
				case 4:
					r.Limits.MaxOutputBytes = rd.int()
				default:
					rd.skip(0)
				}
			}
		case reqDeadline:
			r.DeadlineUnixNano = rd.int()
		case reqCapabilities:
			r.Capabilities = Capability(rd.int())
		case reqPath:
			r.Path = rd.params()
		default:
			rd.skip(0)
		}
	}
	if rd.err != nil {
		return fmt.Errorf("decode request: %w", rd.err)
	}
	return nil
}

func (rd *reader) params() []Param {
	n := rd.arrayLen()
	if n == 0 || rd.err != nil {
		return nil
	}
	if n%2 != 0 {
		rd.fail()
		return nil
	}
	ps := make([]Param, n/2)
	for i := range ps {
		ps[i].Name = rd.string()
		ps[i].Value = rd.string()
	}
	return ps
}

// AppendMsgpack appends the msgpack encoding of r to b.
func (r *Reply) AppendMsgpack(b []byte) []byte {
	b = appendArrayHeader(b, repFields)
	b = appendInt(b, version(r.Version))
	b = appendBool(b, r.Success)
	b = appendInt(b, int64(r.Status))
	b = appendString(b, string(r.Code))
	b = appendString(b, r.Error)
	b = appendInt(b, int64(r.Line))
	b = appendInt(b, int64(r.Col))
	b = appendBytes(b, r.Result)
	b = appendBytes(b, r.Variables)
	b = appendArrayHeader(b, len(r.Logs))
	for _, l := range r.Logs {
		b = appendString(b, l)
	}
	b = appendArrayHeader(b, 3)
	b = appendInt(b, r.Stats.Steps)
	b = appendInt(b, r.Stats.DurationUS)
	b = appendInt(b, r.Stats.PeakMemory)
	b = appendString(b, r.ExecutorID)
	b = appendBool(b, r.SideEffectFree)
	stack := r.Stack
	if len(stack) > MaxStackFrames {
		stack = stack[:MaxStackFrames]
	}
	b = appendArrayHeader(b, len(stack))
	for _, f := range stack {
		b = appendArrayHeader(b, 3)
		b = appendString(b, f.Func)
		b = appendInt(b, int64(f.Line))
		b = appendInt(b, int64(f.Col))
	}
	return b
}

// MarshalMsgpack implements msgpack.Marshaler.
func (r *Reply) MarshalMsgpack() ([]byte, error) { return r.AppendMsgpack(nil), nil }

// UnmarshalMsgpack decodes b into r, replacing its contents. Result and
// Variables alias b. It implements msgpack.Unmarshaler.
func (r *Reply) UnmarshalMsgpack(b []byte) error {
	*r = Reply{}
	rd := reader{b: b}
	n := rd.arrayLen()
	if rd.err != nil || n == 0 {
		return fmt.Errorf("decode reply: %w", ErrMalformed)
	}
	for i := 0; i < n && rd.err == nil; i++ {
		switch i {
		case repVersion:
			r.Version = int(rd.int())
			if rd.err == nil && r.Version != EnvelopeVersion {
				return fmt.Errorf("decode reply: %w: %d", ErrUnsupportedVersion, r.Version)
			}
		case repSuccess:
			r.Success = rd.bool()
		case repStatus:
			r.Status = int(rd.int())
		case repCode:
			r.Code = Code(rd.string())
		case repError:
			r.Error = rd.string()
		case repLine:
			r.Line = int(rd.int())
		case repCol:
			r.Col = int(rd.int())
		case repResult:
			r.Result = rd.bytes()
		case repVariables:
			r.Variables = rd.bytes()
		case repLogs:
			m := rd.arrayLen()
			if m > 0 {
				r.Logs = make([]string, m)
				for j := range r.Logs {
					r.Logs[j] = rd.string()
				}
			}
		case repStats:
			m := rd.arrayLen()
			for j := 0; j < m && rd.err == nil; j++ {
				switch j {
				case 0:
					r.Stats.Steps = rd.int()
				case 1:
					r.Stats.DurationUS = rd.int()
				case 2:
					r.Stats.PeakMemory = rd.int()
				default:
					rd.skip(0)
				}
			}
		case repExecutorID:
			r.ExecutorID = rd.string()
		case repSideEffectFree:
			r.SideEffectFree = rd.bool()
		case repStack:
			r.Stack = rd.stack()
		default:
			rd.skip(0)
		}
	}
	if rd.err != nil {
		return fmt.Errorf("decode reply: %w", rd.err)
	}
	return nil
}

// stack reads Reply.Stack: an array of [func, line, col] arrays. Frames past
// MaxStackFrames and elements past col are skipped.
func (rd *reader) stack() []StackFrame {
	m := rd.arrayLen()
	if m == 0 || rd.err != nil {
		return nil
	}
	fs := make([]StackFrame, 0, min(m, MaxStackFrames))
	for j := 0; j < m && rd.err == nil; j++ {
		if j >= MaxStackFrames {
			rd.skip(0)
			continue
		}
		var f StackFrame
		k := rd.arrayLen()
		for e := 0; e < k && rd.err == nil; e++ {
			switch e {
			case 0:
				f.Func = rd.string()
			case 1:
				f.Line = int(rd.int())
			case 2:
				f.Col = int(rd.int())
			default:
				rd.skip(0)
			}
		}
		fs = append(fs, f)
	}
	return fs
}
