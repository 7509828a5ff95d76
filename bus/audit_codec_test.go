package bus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func auditSamples() []AuditEvent {
	return []AuditEvent{
		{}, // every field zero
		{ID: "n1-1", Time: time.Date(2026, 11, 27, 17, 0, 0, 123456789, time.UTC), Kind: AuditSync, RequestID: "r-1",
			ScriptHash: strings.Repeat("ab", 32), Limits: &AuditLimits{MaxSteps: 1e7, TimeoutMS: 5000, MaxMemoryBytes: 64 << 20, MaxCallDepth: 200, MaxOutputBytes: 1 << 20},
			Outcome: OutcomeSuccess, Status: 200, DurationUS: 12, Steps: 4, ExecutorID: "ex1", NodeID: "node-a"},
		{ID: "n1-2", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Kind: "admin", ClientID: "k1", Command: "hello@1.2.0",
			Outcome: OutcomeError, Code: CodeTimeout, Status: 504, DurationUS: -1, Steps: 1 << 40, JobID: "j",
			Action: "dlq.redrive", Target: `a "quoted" <target> & more`, Detail: "tab\there, line\nbreak, ünïcödé, \u2028, \x00, bad utf8 \xff"},
		{ID: "n1-3", Time: time.Date(2026, 5, 6, 7, 8, 9, 10, time.FixedZone("x", 3600)), Limits: &AuditLimits{}},
	}
}

// The file store's lines must stay exactly what encoding/json wrote.
func TestAuditAppendJSONMatchesEncodingJSON(t *testing.T) {
	for i, ev := range auditSamples() {
		want, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestAuditBatchRoundTrip(t *testing.T) {
	in := auditSamples()
	data := appendAuditBatch(nil, in)
	out, err := DecodeAuditEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d events, want %d", len(out), len(in))
	}
	for i := range in {
		want := in[i]
		if !want.Time.IsZero() {
			want.Time = want.Time.UTC() // the wire carries the instant
		}
		if !reflect.DeepEqual(out[i], want) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, out[i], want)
		}
	}
	// Standard msgpack: another implementation reads it.
	var generic []any
	if err := msgpack.Unmarshal(data, &generic); err != nil || len(generic) != len(in) {
		t.Fatalf("vmihailenco: %v, %d", err, len(generic))
	}
}

// Messages of earlier versions (JSON batches, e.g. in a restored backup)
// and single events from Publish are still read.
func TestAuditDecodeJSONForms(t *testing.T) {
	in := auditSamples()[1:3]
	batch, _ := json.Marshal(in)
	one, _ := json.Marshal(&in[0])
	for _, data := range [][]byte{batch, one, append([]byte("\n "), batch...)} {
		out, err := DecodeAuditEvents(data)
		if err != nil || len(out) == 0 || out[0].ID != "n1-1" || out[0].Limits == nil || out[0].Limits.MaxCallDepth != 200 {
			t.Fatalf("decode %.20q: %v %+v", data, err, out)
		}
	}
}

func TestAuditDecodeHostile(t *testing.T) {
	good := appendAuditBatch(nil, auditSamples())
	for name, data := range map[string][]byte{
		"truncated":      good[:len(good)-3],
		"huge count":     {mpArray32, 0xff, 0xff, 0xff, 0xff, 0x90},
		"event not list": {0x91, 0xa1, 'x'},
		"bad field type": {0x91, 0x91, 0xc3},
		"empty":          {},
		"not json":       []byte("nonsense"),
	} {
		if evs, err := DecodeAuditEvents(data); err == nil {
			t.Errorf("%s: decoded %+v", name, evs)
		}
	}
}

func FuzzDecodeAuditEvents(f *testing.F) {
	f.Add(appendAuditBatch(nil, auditSamples()))
	b, _ := json.Marshal(auditSamples())
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := DecodeAuditEvents(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same events.
		again, err := DecodeAuditEvents(appendAuditBatch(nil, evs))
		if err != nil || len(again) != len(evs) {
			t.Fatalf("re-decode: %v (%d vs %d)", err, len(again), len(evs))
		}
		for i := range evs {
			evs[i].AppendJSON(nil)
		}
	})
}

func BenchmarkAuditCodec(b *testing.B) {
	batch := make([]AuditEvent, 256)
	for i := range batch {
		batch[i] = auditSamples()[1]
	}
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, _ := json.Marshal(batch)
			evs, _ := DecodeAuditEvents(data)
			for i := range evs {
				_, _ = json.Marshal(&evs[i])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
	})
	b.Run("msgpack+AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var line []byte
		for b.Loop() {
			data := appendAuditBatch(nil, batch)
			evs, _ := DecodeAuditEvents(data)
			for i := range evs {
				line = evs[i].AppendJSON(line[:0])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
	})
}

// TestAppendAuditEvents: messages decode one after another into one slice,
// and a bad message leaves it as it was.
func TestAppendAuditEvents(t *testing.T) {
	in := auditSamples()
	batch := appendAuditBatch(nil, in)
	single, err := json.Marshal(in[0])
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]AuditEvent, 0, 1) // grown by the decoder
	for _, data := range [][]byte{batch, single, batch} {
		if dst, err = AppendAuditEvents(dst, data); err != nil {
			t.Fatal(err)
		}
	}
	if len(dst) != 2*len(in)+1 || dst[len(in)].ID != in[0].ID || dst[len(dst)-1].ID != in[len(in)-1].ID {
		t.Fatalf("%d events", len(dst))
	}
	n := len(dst)
	for _, bad := range [][]byte{batch[:len(batch)-3], []byte(`{"id":`), []byte(`[{"id":1}]`)} {
		got, err := AppendAuditEvents(dst, bad)
		if err == nil || len(got) != n || got[n-1].ID != in[len(in)-1].ID {
			t.Fatalf("bad message %q: err %v, %d events", bad, err, len(got))
		}
	}
}
