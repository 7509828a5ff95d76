package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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
	redact := newKeyRedactor().attr
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: redact}))
	}
	return slog.New(tint.NewHandler(w, &tint.Options{
		Level:       lv,
		TimeFormat:  time.TimeOnly + ".000",
		NoColor:     !isTerminal(w),
		ReplaceAttr: redact,
	}))
}

// keyRedactor replaces the values of secret-looking attribute keys. Keys
// come from code, so there are few of them: the verdict per key is
// remembered (up to keyRedactorMax keys), which makes the check of a known
// key one map read instead of a lower-casing and nine substring searches
// (about 50 ns per attribute, on every line).
type keyRedactor struct {
	secret sync.Map // key -> bool
	n      atomic.Int32
}

const keyRedactorMax = 1024

func newKeyRedactor() *keyRedactor { return &keyRedactor{} }

func (r *keyRedactor) attr(_ []string, a slog.Attr) slog.Attr {
	secret, ok := r.secret.Load(a.Key)
	if !ok {
		secret = secretKey(a.Key)
		if r.n.Add(1) <= keyRedactorMax {
			r.secret.Store(a.Key, secret)
		}
	}
	if secret.(bool) {
		return slog.String(a.Key, redacted)
	}
	return a
}

// secretKey reports whether an attribute key names a secret.
func secretKey(key string) bool {
	secretKeyParts := [...]string{"password", "passwd", "secret", "token", "dsn", "authorization", "cookie", "api_key", "apikey"}
	k := strings.ToLower(key)
	for _, p := range secretKeyParts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
