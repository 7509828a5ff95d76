package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAccessLine is the cost of one access-log line through the
// process logger into a file (what stderr is under a supervisor), written
// line by line or through a logBuffer, for both log formats. Compare the
// CPU of the sub-benchmarks: `go test -run '^$' -bench AccessLine -cpu 1 ./cmd/avap`.
func BenchmarkAccessLine(b *testing.B) {
	attrs := []slog.Attr{
		slog.String("request_id", "c2hd8a7s-000123"),
		slog.String("method", "POST"),
		slog.String("path", "/api/v1/execute"),
		slog.Int("status", 200),
		slog.Duration("duration", 1234567*time.Nanosecond),
		slog.Int("bytes_in", 40),
		slog.Int("bytes_out", 160),
		slog.String("remote", "127.0.0.1"),
	}
	for _, format := range []string{"text", "json"} {
		for _, buffered := range []bool{false, true} {
			name := format + "/direct"
			if buffered {
				name = format + "/buffered"
			}
			b.Run(name, func(b *testing.B) {
				f, err := os.Create(filepath.Join(b.TempDir(), "log"))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				var w io.Writer = f
				if buffered {
					buf := newLogBuffer(f)
					defer buf.close()
					w = buf
				}
				lv := new(slog.LevelVar)
				log := newLogger(w, format, lv)
				b.ReportAllocs()
				for b.Loop() {
					log.LogAttrs(nil, slog.LevelInfo, "request", attrs...)
				}
			})
		}
	}
}
