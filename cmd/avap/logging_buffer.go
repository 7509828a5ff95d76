package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Log output of a server role is buffered when it does not go to a
// terminal: a handler writes each record with one Write, and a write(2) per
// line costs more than formatting it (about 2 us of CPU per access-log line
// at tens of thousands of requests per second). A logBuffer collects whole
// records and writes them together:
//   - at most logFlushEvery after a record was written (a ticker),
//   - as soon as logBufferSize bytes are pending,
//   - right after a record at warn or above (flushOnLevel), so problems are
//     never held back,
//   - and on close.
//
// Records are never split across writes and keep their order. A crash can
// lose at most logFlushEvery of info and debug lines.
const (
	logFlushEvery = 100 * time.Millisecond
	logBufferSize = 64 << 10
)

// logBuffer is an io.Writer that buffers whole log records for w.
type logBuffer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	err  error // first write error, reported once by close
	stop chan struct{}
	done chan struct{}
}

// newLogBuffer starts the flusher of a buffer in front of w; close stops it.
func newLogBuffer(w io.Writer) *logBuffer {
	return newLogBufferEvery(w, logFlushEvery)
}

// newLogBufferEvery is newLogBuffer with the flush interval as a parameter,
// so that tests can rule the ticker out (time.Hour) where it would race with
// what they check.
func newLogBufferEvery(w io.Writer, every time.Duration) *logBuffer {
	b := &logBuffer{w: w, buf: make([]byte, 0, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushLoop(every)
	return b
}

func (b *logBuffer) flushLoop(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write takes one record. A record larger than the buffer is written
// through after what is pending.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > logBufferSize {
		b.flushLocked()
		if len(p) > logBufferSize {
			b.writeLocked(p)
			return len(p), nil
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes what is pending.
func (b *logBuffer) Flush() {
	b.mu.Lock()
	b.flushLocked()
	b.mu.Unlock()
}

func (b *logBuffer) flushLocked() {
	if len(b.buf) > 0 {
		b.writeLocked(b.buf)
		b.buf = b.buf[:0]
	}
}

func (b *logBuffer) writeLocked(p []byte) {
	if _, err := b.w.Write(p); err != nil && b.err == nil {
		b.err = err
	}
}

// close stops the flusher and writes what is pending. It returns the first
// write error, if any (the log has nowhere else to say so).
func (b *logBuffer) close() error {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

// flushOnLevel is a handler that flushes its buffers after every record at
// level or above.
type flushOnLevel struct {
	slog.Handler
	level   slog.Level
	buffers []*logBuffer
}

func (f *flushOnLevel) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= f.level {
		for _, b := range f.buffers {
			b.Flush()
		}
	}
	return err
}

func (f *flushOnLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return &flushOnLevel{Handler: f.Handler.WithAttrs(as), level: f.level, buffers: f.buffers}
}

func (f *flushOnLevel) WithGroup(name string) slog.Handler {
	return &flushOnLevel{Handler: f.Handler.WithGroup(name), level: f.level, buffers: f.buffers}
}
