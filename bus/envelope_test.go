package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func sampleRequest() *Request {
	return &Request{
		Version:          EnvelopeVersion,
		ID:               "req-1",
		Lane:             LaneInteractive,
		Name:             "main.avap",
		Script:           "addVar(x, 5)\naddResult(x)\n",
		SourceHash:       bytes.Repeat([]byte{0xab}, 32),
		Query:            []Param{{"a", "1"}, {"b", "x"}},
		Form:             []Param{{"f", "ü"}},
		Params:           json.RawMessage(`{"limit":4}`),
		Body:             json.RawMessage(`{"script":"...","limit":4}`),
		Variables:        json.RawMessage(`{"v":[1,2]}`),
		Limits:           Limits{MaxSteps: 1_000_000, Timeout: time.Second, MaxMemoryBytes: 1 << 20, MaxCallDepth: 50, MaxOutputBytes: 1 << 16},
		DeadlineUnixNano: 1767225600_123456789,
		Path:             []Param{{"id", "42"}},
	}
}

func sampleReply() *Reply {
	return &Reply{
		Version:        EnvelopeVersion,
		Success:        true,
		Status:         401,
		Result:         json.RawMessage(`{"x":5}`),
		Variables:      json.RawMessage(`{"x":5,"_status":401}`),
		Logs:           []string{"one", strings.Repeat("long line ", 40)},
		Stats:          Stats{Steps: 12, DurationUS: 34, PeakMemory: 5678},
		ExecutorID:     "exec-abc",
		SideEffectFree: true,
	}
}

func TestRequestRoundTrip(t *testing.T) {
	cases := []*Request{
		{Version: 1},
		{Version: 1, Command: "hello", CommandVersion: "^1", Lane: LaneBatch},
		sampleRequest(),
		{Version: 1, Script: strings.Repeat("x", 70000), Params: json.RawMessage{}, Limits: Limits{MaxSteps: -1, Timeout: 1 << 40}},
	}
	for i, want := range cases {
		b := want.AppendMsgpack(nil)
		var got Request
		if err := got.UnmarshalMsgpack(b); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("case %d: round trip\n got %+v\nwant %+v", i, got, *want)
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	cases := []*Reply{
		{Version: 1},
		sampleReply(),
		{Version: 1, Code: CodeSyntax, Status: 400, Error: "expected )", Line: 3, Col: 9, ExecutorID: "e"},
		{Version: 1, Code: CodeRuntime, Status: 500, Error: "division by zero", Line: 3, Col: 5, Stack: []StackFrame{{"inner", 3, 5}, {"outer", 7, 2}, {"<main>", 10, 1}}},
		{Version: 1, Success: true, Stats: Stats{Steps: 1 << 40, DurationUS: -1, PeakMemory: 1 << 33}},
	}
	for i, want := range cases {
		b := want.AppendMsgpack(nil)
		var got Reply
		if err := got.UnmarshalMsgpack(b); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("case %d: round trip\n got %+v\nwant %+v", i, got, *want)
		}
	}
}

// TestInterop checks that the hand-written codec produces standard msgpack:
// the reference library decodes it into the documented array layout, and
// encodes through the Marshaler/Unmarshaler interfaces.
func TestInterop(t *testing.T) {
	req := sampleRequest()
	var generic []any
	if err := msgpack.Unmarshal(req.AppendMsgpack(nil), &generic); err != nil {
		t.Fatal(err)
	}
	if len(generic) != reqFields {
		t.Fatalf("fields = %d, want %d", len(generic), reqFields)
	}
	if generic[reqID] != "req-1" || generic[reqScript] != req.Script {
		t.Errorf("generic decode: %v", generic)
	}
	if !bytes.Equal(generic[reqParams].([]byte), req.Params) {
		t.Errorf("params: %v", generic[reqParams])
	}
	lim := generic[reqLimits].([]any)
	if toInt(lim[1]) != int64(time.Second) {
		t.Errorf("timeout: %v", lim[1])
	}

	b, err := msgpack.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var got Request
	if err := msgpack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, req) {
		t.Errorf("library round trip differs")
	}

	// A reply written by the library from a generic array decodes.
	rb, err := msgpack.Marshal([]any{1, true, 201, "", "", 0, 0, []byte(`{"a":1}`), nil, []string{"l"}, []int{1, 2, 3}, "ex", false, []any{[]any{"f", 3, 5, "future frame field"}}, "future field"})
	if err != nil {
		t.Fatal(err)
	}
	var rep Reply
	if err := rep.UnmarshalMsgpack(rb); err != nil {
		t.Fatal(err)
	}
	if !rep.Success || rep.Status != 201 || string(rep.Result) != `{"a":1}` || rep.Stats.PeakMemory != 3 || rep.ExecutorID != "ex" ||
		!reflect.DeepEqual(rep.Stack, []StackFrame{{"f", 3, 5}}) {
		t.Errorf("reply from library: %+v", rep)
	}
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int64:
		return v
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		return int64(v)
	}
	return -1
}

func TestCompatibility(t *testing.T) {
	// Fewer fields (an older writer): missing ones are zero.
	b, _ := msgpack.Marshal([]any{1, "id-only"})
	var r Request
	if err := r.UnmarshalMsgpack(b); err != nil || r.ID != "id-only" {
		t.Fatalf("short request: %v %+v", err, r)
	}
	// More fields (a newer writer, same major): ignored, including nested ones.
	full := append([]byte{mpArray16, 0, reqFields + 2}, sampleRequest().AppendMsgpack(nil)[len(appendArrayHeader(nil, reqFields)):]...)
	full = append(full, 0x81, 0xa1, 'k', 0x92, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0)
	full = appendString(full, "tail")
	if err := r.UnmarshalMsgpack(full); err != nil {
		t.Fatalf("long request: %v", err)
	}
	if !reflect.DeepEqual(&r, sampleRequest()) {
		t.Errorf("long request decoded differently")
	}
	// A reply of an older writer (before Stack) decodes with no stack.
	old, _ := msgpack.Marshal([]any{1, false, 500, string(CodeRuntime), "boom", 3, 5, nil, nil, []string{}, []int{1, 2, 3}, "ex", false})
	var oldRep Reply
	if err := oldRep.UnmarshalMsgpack(old); err != nil || oldRep.Stack != nil || oldRep.Line != 3 || oldRep.Error != "boom" || oldRep.ExecutorID != "ex" {
		t.Errorf("old reply: %v %+v", err, oldRep)
	}
	// The stack is the last element, so readers of 13 fields skip it.
	withStack := &Reply{Version: 1, Code: CodeRuntime, Error: "e", Stack: []StackFrame{{"f", 1, 2}}}
	var generic []any
	if err := msgpack.Unmarshal(withStack.AppendMsgpack(nil), &generic); err != nil || len(generic) != repFields || repStack != repFields-1 {
		t.Fatalf("generic reply: %v %d", err, len(generic))
	}
	var old13 Reply
	if err := old13.UnmarshalMsgpack(append([]byte{0x9d}, withStack.AppendMsgpack(nil)[1:]...)); err != nil || old13.Stack != nil || old13.Error != "e" {
		t.Errorf("reply cut to 13 fields: %v %+v", err, old13)
	}
	// The stack is bounded on write and on read.
	long := make([]StackFrame, MaxStackFrames+5)
	for i := range long {
		long[i] = StackFrame{Func: "f", Line: i + 1, Col: 1}
	}
	var bounded Reply
	if err := bounded.UnmarshalMsgpack((&Reply{Version: 1, Stack: long}).AppendMsgpack(nil)); err != nil || len(bounded.Stack) != MaxStackFrames || bounded.Stack[0].Line != 1 {
		t.Errorf("bounded write: %v %d", err, len(bounded.Stack))
	}
	frames := make([]any, MaxStackFrames+5)
	for i := range frames {
		frames[i] = []any{"f", i + 1, 1}
	}
	lb, _ := msgpack.Marshal([]any{1, false, 0, "", "", 0, 0, nil, nil, nil, nil, "", false, frames})
	if err := bounded.UnmarshalMsgpack(lb); err != nil || len(bounded.Stack) != MaxStackFrames {
		t.Errorf("bounded read: %v %d", err, len(bounded.Stack))
	}
	// Another major version is refused.
	b, _ = msgpack.Marshal([]any{2, "x"})
	if err := r.UnmarshalMsgpack(b); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version 2: %v", err)
	}
	var rep Reply
	if err := rep.UnmarshalMsgpack(b); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("reply version 2: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	good := sampleRequest().AppendMsgpack(nil)
	for _, b := range [][]byte{nil, {}, {0x90}, {0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}, good[:len(good)-1], good[:10]} {
		var r Request
		if err := r.UnmarshalMsgpack(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: err = %v, want ErrMalformed", b, err)
		}
		var rep Reply
		if err := rep.UnmarshalMsgpack(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("reply % x: err = %v, want ErrMalformed", b, err)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(sampleRequest().AppendMsgpack(nil))
	f.Add((&Request{}).AppendMsgpack(nil))
	f.Add([]byte{0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if err := r.UnmarshalMsgpack(b); err != nil {
			return
		}
		// What decodes re-encodes to something that decodes to the same.
		var again Request
		if err := again.UnmarshalMsgpack(r.AppendMsgpack(nil)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(normReq(r), normReq(again)) {
			t.Fatalf("re-decode differs:\n%+v\n%+v", r, again)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	f.Add(sampleReply().AppendMsgpack(nil))
	f.Add((&Reply{Code: CodeTimeout}).AppendMsgpack(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reply
		if err := r.UnmarshalMsgpack(b); err != nil {
			return
		}
		var again Reply
		if err := again.UnmarshalMsgpack(r.AppendMsgpack(nil)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(normRep(r), normRep(again)) {
			t.Fatalf("re-decode differs:\n%+v\n%+v", r, again)
		}
	})
}

// normReq/normRep map empty slices to nil where the encoding cannot tell
// them apart (an empty param list is written as an empty array).
func normReq(r Request) Request {
	if len(r.Query) == 0 {
		r.Query = nil
	}
	if len(r.Form) == 0 {
		r.Form = nil
	}
	return r
}

func normRep(r Reply) Reply {
	if len(r.Logs) == 0 {
		r.Logs = nil
	}
	return r
}
