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

func (l *lockedBuffer) Writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

func TestLogBufferBatchesInfoAndFlushesWarnAtOnce(t *testing.T) {
	// The flush interval is an hour here: with the real 100 ms a slow
	// scheduler could let the ticker flush between the info lines and the
	// warn, and the test would blame the buffer for the ticker's flush.
	// Whether the ticker flushes is checked separately below.
	out := &lockedBuffer{}
	buf := newLogBufferEvery(out, time.Hour)
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
	if n := out.Writes(); n != 1 {
		t.Fatalf("101 records took %d writes, want 1", n)
	}
	if err := buf.close(); err != nil {
		t.Fatal(err)
	}
}

func TestLogBufferFlushesInfoLater(t *testing.T) {
	// The real interval: an info line alone must reach the output without a
	// warn or a close, through the ticker. The deadline is generous (the
	// ticker fires every logFlushEvery); without a ticker it never arrives.
	out := &lockedBuffer{}
	buf := newLogBuffer(out)
	log := slog.New(&flushOnLevel{Handler: slog.NewJSONHandler(buf, nil), level: slog.LevelWarn, buffers: []*logBuffer{buf}})

	log.Info("later")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `"msg":"later"`) {
		if time.Now().After(deadline) {
			t.Fatal("an info line was not flushed by the ticker within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := buf.close(); err != nil {
		t.Fatal(err)
	}
}

func TestLogBufferCloseFlushesAndBigRecordsPassThrough(t *testing.T) {
	// No ticker flush (an hour): it could write the last small record before
	// the check that only close writes it.
	out := &lockedBuffer{}
	buf := newLogBufferEvery(out, time.Hour)
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
