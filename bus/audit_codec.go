package bus

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Audit event codecs. Batches (AuditEmitter) travel as msgpack: an array
// of events, each a positional array of the fields below (new fields are
// appended; a decoder skips fields it does not know). Under load every
// execution is one event, and encoding/json spent about 4 us decoding and
// 1.5 us encoding each one in the sink, more than the rest of the audit
// path. Single events from Publish and messages of earlier versions are
// JSON; DecodeAuditEvents reads both. AppendJSON writes the JSON line of
// the file store, byte for byte what encoding/json writes.

// Positions of the AuditEvent fields in its msgpack array.
const (
	aeID = iota
	aeTime
	aeKind
	aeRequestID
	aeClientID
	aeScriptHash
	aeCommand
	aeLimits
	aeOutcome
	aeCode
	aeStatus
	aeDurationUS
	aeSteps
	aeExecutorID
	aeNodeID
	aeJobID
	aeAction
	aeTarget
	aeDetail
	aeFields // number of fields
)

// appendAuditBatch appends the msgpack encoding of evs to b.
func appendAuditBatch(b []byte, evs []AuditEvent) []byte {
	b = appendArrayHeader(b, len(evs))
	for i := range evs {
		b = evs[i].appendMsgpack(b)
	}
	return b
}

func (e *AuditEvent) appendMsgpack(b []byte) []byte {
	b = appendArrayHeader(b, aeFields)
	b = appendString(b, e.ID)
	if e.Time.IsZero() {
		b = appendNil(b)
	} else {
		b = appendInt(b, e.Time.UnixNano())
	}
	b = appendString(b, e.Kind)
	b = appendString(b, e.RequestID)
	b = appendString(b, e.ClientID)
	b = appendString(b, e.ScriptHash)
	b = appendString(b, e.Command)
	if l := e.Limits; l == nil {
		b = appendNil(b)
	} else {
		b = appendArrayHeader(b, 5)
		b = appendInt(b, l.MaxSteps)
		b = appendInt(b, l.TimeoutMS)
		b = appendInt(b, l.MaxMemoryBytes)
		b = appendInt(b, l.MaxCallDepth)
		b = appendInt(b, l.MaxOutputBytes)
	}
	b = appendString(b, e.Outcome)
	b = appendString(b, string(e.Code))
	b = appendInt(b, int64(e.Status))
	b = appendInt(b, e.DurationUS)
	b = appendInt(b, e.Steps)
	b = appendString(b, e.ExecutorID)
	b = appendString(b, e.NodeID)
	b = appendString(b, e.JobID)
	b = appendString(b, e.Action)
	b = appendString(b, e.Target)
	b = appendString(b, e.Detail)
	return b
}

// interner shares the strings that repeat from event to event of a batch
// (kind, outcome, code, node and executor ids, script hash, command,
// action), so a batch of hundreds of events allocates each of them once.
// A nil interner shares nothing.
type interner map[string]string

// maxInterned bounds an interner: past it, strings are only allocated.
const maxInterned = 256

func (in interner) str(rd *reader) string {
	b := rd.strBytes()
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if in != nil && len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// decodeAuditBatchInto appends the events of a msgpack batch to dst; on
// error it returns dst as it was.
func decodeAuditBatchInto(dst []AuditEvent, data []byte) ([]AuditEvent, error) {
	rd := reader{b: data}
	n := rd.arrayLen()
	if rd.err != nil {
		return dst, fmt.Errorf("audit: batch: %w", ErrMalformed)
	}
	// Every event takes at least two bytes, so n cannot make this
	// allocation larger than the message.
	if n > len(data)/2 {
		return dst, fmt.Errorf("audit: batch: %w", ErrMalformed)
	}
	in := make(interner, 16)
	out := slices.Grow(dst, n)[:len(dst)+n]
	evs := out[len(dst):]
	for i := range evs {
		evs[i] = AuditEvent{}
		evs[i].decodeMsgpack(&rd, in)
		if rd.err != nil {
			clear(evs)
			return dst, fmt.Errorf("audit: batch event %d: %w", i, ErrMalformed)
		}
	}
	return out, nil
}

func (e *AuditEvent) decodeMsgpack(rd *reader, in interner) {
	n := rd.arrayLen()
	for i := 0; i < n && rd.err == nil; i++ {
		switch i {
		case aeID:
			e.ID = rd.string()
		case aeTime:
			if !rd.isNil() {
				e.Time = time.Unix(0, rd.int()).UTC()
			}
		case aeKind:
			e.Kind = in.str(rd)
		case aeRequestID:
			e.RequestID = rd.string()
		case aeClientID:
			e.ClientID = rd.string()
		case aeScriptHash:
			e.ScriptHash = in.str(rd)
		case aeCommand:
			e.Command = in.str(rd)
		case aeLimits:
			if rd.isNil() {
				continue
			}
			l := &AuditLimits{}
			m := rd.arrayLen()
			for j := 0; j < m && rd.err == nil; j++ {
				switch j {
				case 0:
					l.MaxSteps = rd.int()
				case 1:
					l.TimeoutMS = rd.int()
				case 2:
					l.MaxMemoryBytes = rd.int()
				case 3:
					l.MaxCallDepth = rd.int()
				case 4:
					l.MaxOutputBytes = rd.int()
				default:
					rd.skip(0)
				}
			}
			e.Limits = l
		case aeOutcome:
			e.Outcome = in.str(rd)
		case aeCode:
			e.Code = Code(in.str(rd))
		case aeStatus:
			e.Status = int(rd.int())
		case aeDurationUS:
			e.DurationUS = rd.int()
		case aeSteps:
			e.Steps = rd.int()
		case aeExecutorID:
			e.ExecutorID = in.str(rd)
		case aeNodeID:
			e.NodeID = in.str(rd)
		case aeJobID:
			e.JobID = rd.string()
		case aeAction:
			e.Action = in.str(rd)
		case aeTarget:
			e.Target = rd.string()
		case aeDetail:
			e.Detail = rd.string()
		default:
			rd.skip(0)
		}
	}
}

// AppendJSON appends the JSON object of e to b: the bytes json.Marshal
// produces, without its reflection (the file store writes one line per
// event).
func (e *AuditEvent) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"time":`...)
	if y := e.Time.Year(); y < 0 || y > 9999 {
		// Outside RFC 3339: let encoding/json report it the way it does.
		tb, err := json.Marshal(e.Time)
		if err != nil {
			tb = []byte(`null`)
		}
		b = append(b, tb...)
	} else {
		b = append(b, '"')
		b = e.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, e.Kind)
	b = appendJSONField(b, "request_id", e.RequestID)
	b = appendJSONField(b, "client_id", e.ClientID)
	b = appendJSONField(b, "script_hash", e.ScriptHash)
	b = appendJSONField(b, "command", e.Command)
	if l := e.Limits; l != nil {
		b = append(b, `,"limits":{"max_steps":`...)
		b = strconv.AppendInt(b, l.MaxSteps, 10)
		b = append(b, `,"timeout_ms":`...)
		b = strconv.AppendInt(b, l.TimeoutMS, 10)
		b = append(b, `,"max_memory_bytes":`...)
		b = strconv.AppendInt(b, l.MaxMemoryBytes, 10)
		b = append(b, `,"max_call_depth":`...)
		b = strconv.AppendInt(b, l.MaxCallDepth, 10)
		b = append(b, `,"max_output_bytes":`...)
		b = strconv.AppendInt(b, l.MaxOutputBytes, 10)
		b = append(b, '}')
	}
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, e.Outcome)
	b = appendJSONField(b, "code", string(e.Code))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, e.DurationUS, 10)
	b = append(b, `,"steps":`...)
	b = strconv.AppendInt(b, e.Steps, 10)
	b = appendJSONField(b, "executor_id", e.ExecutorID)
	b = appendJSONField(b, "node_id", e.NodeID)
	b = appendJSONField(b, "job_id", e.JobID)
	b = appendJSONField(b, "action", e.Action)
	b = appendJSONField(b, "target", e.Target)
	b = appendJSONField(b, "detail", e.Detail)
	return append(b, '}')
}

// appendJSONField appends ,"key":"value" unless value is empty (omitempty).
func appendJSONField(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendJSONString appends s as a JSON string. Plain text (printable
// ASCII without quote, backslash or the HTML characters encoding/json
// escapes) is copied; anything else goes through encoding/json, so the
// output is always what json.Marshal writes.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
