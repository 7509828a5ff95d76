package bus

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// reflReq mirrors Request with struct tags, for comparing the hand-written
// codec with the library's reflection encoder (the alternative design).
type reflReq struct {
	Version          int           `msgpack:"v"`
	ID               string        `msgpack:"id"`
	Lane             string        `msgpack:"lane"`
	Name             string        `msgpack:"name"`
	Script           string        `msgpack:"script"`
	Command          string        `msgpack:"cmd"`
	CommandVersion   string        `msgpack:"cmdv"`
	SourceHash       []byte        `msgpack:"hash"`
	Query            []Param       `msgpack:"q"`
	Form             []Param       `msgpack:"f"`
	Params           []byte        `msgpack:"p"`
	Body             []byte        `msgpack:"b"`
	Variables        []byte        `msgpack:"vars"`
	Limits           Limits        `msgpack:"lim"`
	DeadlineUnixNano int64         `msgpack:"dl"`
	_                time.Duration `msgpack:"-"`
}

func reflSample() reflReq {
	r := sampleRequest()
	return reflReq{Version: 1, ID: r.ID, Lane: string(r.Lane), Name: r.Name, Script: r.Script,
		SourceHash: r.SourceHash, Query: r.Query, Form: r.Form, Params: r.Params, Body: r.Body,
		Variables: r.Variables, Limits: r.Limits, DeadlineUnixNano: r.DeadlineUnixNano}
}

func BenchmarkRequestEncode(b *testing.B) {
	r := sampleRequest()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendMsgpack(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkRequestDecode(b *testing.B) {
	enc := sampleRequest().AppendMsgpack(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	var r Request
	for b.Loop() {
		if err := r.UnmarshalMsgpack(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplyEncode(b *testing.B) {
	r := sampleReply()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendMsgpack(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkReplyDecode(b *testing.B) {
	enc := sampleReply().AppendMsgpack(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	var r Reply
	for b.Loop() {
		if err := r.UnmarshalMsgpack(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// The library's reflection codec, map-encoded (default) and array-encoded.
func BenchmarkLibRequestEncode(b *testing.B) {
	for _, arr := range []bool{false, true} {
		name := "map"
		if arr {
			name = "array"
		}
		b.Run(name, func(b *testing.B) {
			r := reflSample()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				enc := msgpack.GetEncoder()
				var w sliceWriter
				enc.Reset(&w)
				enc.UseArrayEncodedStructs(arr)
				if err := enc.Encode(&r); err != nil {
					b.Fatal(err)
				}
				msgpack.PutEncoder(enc)
				n = len(w)
			}
			b.SetBytes(int64(n))
		})
	}
}

func BenchmarkLibRequestDecode(b *testing.B) {
	r := reflSample()
	enc, err := msgpack.Marshal(&r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		var got reflReq
		if err := msgpack.Unmarshal(enc, &got); err != nil {
			b.Fatal(err)
		}
	}
}

type sliceWriter []byte

func (w *sliceWriter) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }
