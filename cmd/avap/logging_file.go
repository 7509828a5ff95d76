package main

import (
	"io"
	"log/slog"

	"gopkg.in/natefinch/lumberjack.v2"
)

// newProcessLogger builds the process logger of a server role: the stderr
// handler of newLogger, plus, when log.file.path is set, the same format
// (never colored) into a file rotated by lumberjack, and, when sentry.dsn is
// set, a handler that sends recovered panics and 5xx answers to Sentry
// (sentry.go). Output that is not a terminal is buffered (logging_buffer.go).
// closeLog flushes the buffers and Sentry and closes the file; call it last.
func newProcessLogger(stderr io.Writer, cfg *Config, lv *slog.LevelVar, b buildInfo) (log *slog.Logger, closeLog func(), err error) {
	var closers []func()
	var buffers []*logBuffer
	buffered := func(w io.Writer) io.Writer { // logging_buffer.go
		b := newLogBuffer(w)
		buffers = append(buffers, b)
		closers = append(closers, func() { _ = b.close() })
		return b
	}
	var h slog.Handler
	if isTerminal(stderr) {
		h = newLogger(stderr, cfg.Log.Format, lv).Handler() // a person is reading: line by line
	} else {
		h = newLogger(buffered(stderr), cfg.Log.Format, lv).Handler()
	}
	if fc := cfg.Log.File; fc.Path != "" {
		lj := newLogFile(fc)
		closers = append(closers, func() { _ = lj.Close() })
		h = slog.NewMultiHandler(h, newLogger(buffered(lj), cfg.Log.Format, lv).Handler())
	}
	if len(buffers) > 0 {
		h = &flushOnLevel{Handler: h, level: slog.LevelWarn, buffers: buffers}
	}
	if cfg.Sentry.DSN.Reveal() != "" {
		sh, err := newSentryHandler(h, cfg.Sentry, b, nil)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, sh.close)
		h = sh
	}
	return slog.New(h), func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}, nil
}

// newLogFile is the rotated log file of fc; lumberjack opens it (creating
// missing directories, mode 0600) on the first write.
func newLogFile(fc LogFileConfig) *lumberjack.Logger {
	return &lumberjack.Logger{
		Filename:   fc.Path,
		MaxSize:    fc.MaxSizeMB,
		MaxBackups: fc.MaxBackups,
		MaxAge:     fc.MaxAgeDays,
		Compress:   fc.Compress,
	}
}
