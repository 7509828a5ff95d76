package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
)

// parseLevel maps log.level to a slog level.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
}

// newLogger builds the process logger: tint text (colored when w is a
// terminal) or JSON, with its level held in lv so reloads can change it.
// Only cmd/avap builds handlers; libraries get loggers derived from this.
func newLogger(w io.Writer, format string, lv *slog.LevelVar) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: redactAttr}))
	}
	return slog.New(tint.NewHandler(w, &tint.Options{
		Level:       lv,
		TimeFormat:  time.TimeOnly + ".000",
		NoColor:     !isTerminal(w),
		ReplaceAttr: redactAttr,
	}))
}

// redactAttr replaces values of secret-looking keys.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	secretKeyParts := [...]string{"password", "passwd", "secret", "token", "dsn", "authorization", "cookie", "api_key", "apikey"}
	k := strings.ToLower(a.Key)
	for _, p := range secretKeyParts {
		if strings.Contains(k, p) {
			return slog.String(a.Key, redacted)
		}
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
