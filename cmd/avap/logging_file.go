package main

import (
	"io"
	"log/slog"

	"gopkg.in/natefinch/lumberjack.v2"
)

// processLoggers are the loggers of a server role.
type processLoggers struct {
	Log *slog.Logger // everything
	// Access is the HTTP access log: the same outputs, buffers and Sentry
	// as Log, with its lines written by accessHandler (logging_access.go).
	Access *slog.Logger
	// Close flushes the buffers and Sentry and closes the file; call it last.
	Close func()
}

// newProcessLogger builds the process loggers of a server role: the stderr
// handler of newLogger, plus, when log.file.path is set, the same format
// (never colored) into a file rotated by lumberjack, and, when sentry.dsn is
// set, a handler that sends recovered panics and 5xx answers to Sentry
// (sentry.go). Output that is not a terminal is buffered (logging_buffer.go).
func newProcessLogger(stderr io.Writer, cfg *Config, lv *slog.LevelVar, b buildInfo) (processLoggers, error) {
	var closers []func()
	var buffers []*logBuffer
	buffered := func(w io.Writer) io.Writer { // logging_buffer.go
		b := newLogBuffer(w)
		buffers = append(buffers, b)
		closers = append(closers, func() { _ = b.close() })
		return b
	}
	out := stderr
	if !isTerminal(stderr) {
		out = buffered(stderr) // a person reading a terminal sees line by line
	}
	h, access := newLogger(out, cfg.Log.Format, lv).Handler(), newAccessHandler(out, cfg.Log.Format, lv)
	if fc := cfg.Log.File; fc.Path != "" {
		lj := newLogFile(fc)
		closers = append(closers, func() { _ = lj.Close() })
		f := buffered(lj)
		h = slog.NewMultiHandler(h, newLogger(f, cfg.Log.Format, lv).Handler())
		access = slog.NewMultiHandler(access, newAccessHandler(f, cfg.Log.Format, lv))
	}
	if len(buffers) > 0 {
		h = &flushOnLevel{Handler: h, level: slog.LevelWarn, buffers: buffers}
		access = &flushOnLevel{Handler: access, level: slog.LevelWarn, buffers: buffers}
	}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if cfg.Sentry.DSN.Reveal() != "" {
		sh, err := newSentryHandler(h, cfg.Sentry, b, nil)
		if err != nil {
			closeAll()
			return processLoggers{}, err
		}
		closers = append(closers, sh.close)
		h, access = sh, sh.withNext(access)
	}
	return processLoggers{Log: slog.New(h), Access: slog.New(access), Close: closeAll}, nil
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
