package main

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flusher goroutine and the test.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogBufferBatchesInfoAndFlushesWarnAtOnce(t *testing.T) {
	out := &lockedBuffer{}
	buf := newLogBuffer(out)
	log := slog.New(&flushOnLevel{Handler: slog.NewJSONHandler(buf, nil), level: slog.LevelWarn, buffers: []*logBuffer{buf}})

	for i := range 100 {
		log.Info("request", "n", i)
	}
	if got := out.String(); got != "" {
		t.Fatalf("info lines written before a flush: %q", got[:min(len(got), 80)])
	}
	log.Warn("upstream failed")
	got := out.String()
	if !strings.Contains(got, `"msg":"upstream failed"`) || strings.Count(got, "\n") != 101 {
		t.Fatalf("a warn record must flush itself and everything before it, in order; got %d lines", strings.Count(got, "\n"))
	}
	if i, j := strings.Index(got, `"n":99`), strings.Index(got, "upstream failed"); i < 0 || i > j {
		t.Fatal("records out of order")
	}
	if out.writes != 1 {
		t.Fatalf("101 records took %d writes, want 1", out.writes)
	}

	log.Info("later")
	deadline := time.Now().Add(5 * logFlushEvery)
	for !strings.Contains(out.String(), `"msg":"later"`) {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was not flushed within %v", 5*logFlushEvery)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := buf.close(); err != nil {
		t.Fatal(err)
	}
}

func TestLogBufferCloseFlushesAndBigRecordsPassThrough(t *testing.T) {
	out := &lockedBuffer{}
	buf := newLogBuffer(out)
	small := []byte("small\n")
	big := []byte(strings.Repeat("x", logBufferSize+10) + "\n")
	for _, p := range [][]byte{small, big, small} {
		if n, err := buf.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := out.String(); got != string(small)+string(big) {
		t.Fatalf("a record bigger than the buffer must be written through after what is pending; got %d bytes", len(got))
	}
	if err := buf.close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, string(big)+string(small)) {
		t.Fatal("close did not flush the pending record")
	}
}

func TestKeyRedactor(t *testing.T) {
	r := new(keyRedactor)
	for i := range 300 { // many more keys than slots: evicted verdicts are recomputed
		for _, c := range []struct {
			key    string
			secret bool
		}{{"Postgres_DSN", true}, {"api_key", true}, {"x-Authorization", true}, {"path", false}, {"status", false}} {
			got := r.attr(nil, slog.String(c.key, "v")).Value.String()
			if (got == redacted) != c.secret {
				t.Fatalf("%s -> %q", c.key, got)
			}
		}
		r.attr(nil, slog.String("k"+strconv.Itoa(i), "v"))
	}
}
