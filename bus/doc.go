// Package bus defines what travels on the NATS mesh between edges and
// executors: subjects, message headers, the request and reply envelopes
// with their msgpack codec, and the table of stable wire error codes.
//
// # Subjects
//
// Every subject is built by a constructor in subjects.go that validates its
// tokens; no other package concatenates subjects. Executions go to
// ExecSubject(lane), "avap.exec.v1.interactive" or "avap.exec.v1.batch",
// served by the queue group "avap-executor" of the nats.go micro service of
// the same name, so "$SRV.PING|INFO|STATS.avap-executor" discovers every
// executor. Compile-and-store requests go to "avap.compile.v1".
//
// # Envelopes
//
// A Request or Reply is one msgpack array whose elements are the struct
// fields in a fixed order (see the req*/rep* constants in envelope.go):
// positional arrays are about half the size of maps with field names and
// need no key matching. Strings are msgpack str; raw JSON (params, body,
// variables, result) and hashes are bin, so JSON text crosses the mesh
// byte for byte and is spliced into HTTP responses without re-decoding.
// Limits and Stats are nested arrays of integers; durations are
// nanoseconds except Stats.DurationUS. Query and form parameters are a flat
// array name, value, name, value... so their order survives.
//
// Element 0 is the envelope major version (EnvelopeVersion). Compatible
// additions append elements: readers skip elements they do not know and
// take missing trailing elements as zero. Any other change bumps the
// major, and readers refuse majors they do not know (ErrUnsupportedVersion,
// wire code AVAP_UNSUPPORTED_VERSION).
//
// The codec is hand-written (append-style encoders, a bounds-checked
// reader) because it is on the hot path of every request: on the sample
// request of bench_test.go it encodes in ~60 ns with no allocation and
// decodes in ~200 ns, against ~900-1500 ns and 28-55 allocations for the
// reflection encoder of github.com/vmihailenco/msgpack/v5 (array or map
// form) and ~1700 ns to decode. The output is standard msgpack: Request and
// Reply implement that library's Marshaler and Unmarshaler, and the tests
// decode our bytes with it.
//
// # Worked example
//
// The request
//
//	Request{ID: "r1", Lane: LaneInteractive, Script: "addVar(x,5)\naddResult(x)",
//		Query: []Param{{"a", "1"}}, Variables: json.RawMessage(`{"y":2}`),
//		Limits: Limits{Timeout: time.Second}}
//
// encodes as (77 bytes)
//
//	dc 00 10                        array of 16
//	01                              version 1
//	a2 72 31                        id "r1"
//	ab 69 6e 74 ... 76 65           lane "interactive"
//	a0                              name ""
//	b8 61 64 64 ... 78 29           script (24 bytes)
//	a0 a0                           command "", command version ""
//	c0                              source hash nil
//	92 a1 61 a1 31                  query ["a", "1"]
//	90                              form []
//	c0 c0                           params nil, body nil
//	c4 07 7b 22 79 22 3a 32 7d      variables bin `{"y":2}`
//	95 00 d2 3b 9a ca 00 00 00 00   limits [0, 1e9 ns, 0, 0, 0]
//	00                              deadline none
//	00                              capabilities: all (Capability)
//
// and a successful reply
//
//	Reply{Success: true, Result: json.RawMessage(`{"x":5}`),
//		Stats: Stats{Steps: 4, DurationUS: 3, PeakMemory: 64},
//		ExecutorID: "e1", SideEffectFree: true}
//
// as (28 bytes)
//
//	9e 01 c3 00 a0 a0 00 00         array of 14, version, success, status 0, code "", error "", line, col
//	c4 07 7b 22 78 22 3a 35 7d      result bin `{"x":5}`
//	c0 90                           variables nil, logs []
//	93 04 03 40                     stats [4 steps, 3 us, 64 bytes]
//	a2 65 31 c3                     executor "e1", side-effect free
//	90                              stack []
//
// # Errors
//
// A failed run is a Reply with Success false, a Code from codes.go, a
// message and, for script errors, a line and column. A runtime error also
// carries Stack (element 13, appended compatibly like Request.Capabilities):
// an array of [function, line, column] arrays, innermost first, at most
// MaxStackFrames (32) of them. The innermost frame is where the error
// happened; each outer frame is the position of the call into the frame
// before it; the top level of the script is named "<main>". Writers keep
// the innermost 32 frames, readers skip any beyond 32 and any trailing
// elements of a frame, and a reply without the element has a nil Stack. Decoders return
// ErrMalformed or ErrUnsupportedVersion wrapped with the action; they never
// panic on hostile input (FuzzDecodeRequest, FuzzDecodeReply) and never
// allocate more than the message size.
package bus
