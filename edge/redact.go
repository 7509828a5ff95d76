package edge

import (
	"context"
	"log/slog"
	"strings"

	"github.com/avapmesh/avap/bus"
)

// Redaction of secrets in log lines. The edge's logger is wrapped so that
// every line it writes, whoever builds the attributes, has:
//   - the values of secret-named attributes replaced ("authorization",
//     "x-api-key", "signature", "secret", "token", "password", "api_key",
//     and the configured RedactFields);
//   - API keys ("avap_<id>_<secret>": the secret part), "Bearer <token>"
//     and "v1=<signature>" inside any string value replaced;
//   - `"field": "value"` pairs of configured fields inside string values
//     (JSON fragments of bodies) replaced.

const redactedValue = "[redacted]"

// redactLogger wraps l so every line is redacted.
func redactLogger(l *slog.Logger, fields []string) *slog.Logger {
	names := []string{"authorization", "x-api-key", "api_key", "apikey", "signature", "secret", "token", "password", "cookie"}
	for _, f := range fields {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			names = append(names, f)
		}
	}
	return slog.New(&redactHandler{h: l.Handler(), names: names, fields: fields})
}

type redactHandler struct {
	h      slog.Handler
	names  []string // lower-case attribute key parts that are secret
	fields []string // body member names to redact inside strings
}

func (r *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, RedactString(rec.Message, r.fields), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = r.attr(a)
	}
	return &redactHandler{h: r.h.WithAttrs(red), names: r.names, fields: r.fields}
}

func (r *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: r.h.WithGroup(name), names: r.names, fields: r.fields}
}

func (r *redactHandler) attr(a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, n := range r.names {
		if strings.Contains(k, n) {
			return slog.String(a.Key, redactedValue)
		}
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, RedactString(v.String(), r.fields))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = r.attr(x)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, RedactString(err.Error(), r.fields))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// RedactString replaces API keys, bearer tokens, signatures and the values
// of `"field": "..."` members in s. It returns s itself when nothing
// matches (no allocation).
func RedactString(s string, fields []string) string {
	if !strings.Contains(s, bus.KeyPrefix) && !strings.Contains(s, "earer ") && !strings.Contains(s, "v1=") && !hasField(s, fields) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], bus.KeyPrefix):
			j := i + len(bus.KeyPrefix)
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
				j++
			}
			if j-i > len(bus.KeyPrefix)+8 {
				b.WriteString(s[i:min(j, i+len(bus.KeyPrefix)+12)]) // keep the public id
				b.WriteString("_" + redactedValue)
				i = j
				continue
			}
		case hasPrefixFold(s[i:], "bearer "):
			j := i + 7
			b.WriteString(s[i:j])
			for j < len(s) && s[j] != ' ' && s[j] != '"' && s[j] != ',' {
				j++
			}
			b.WriteString(redactedValue)
			i = j
			continue
		case strings.HasPrefix(s[i:], "v1=") && i+3+16 <= len(s) && isHex(s[i+3:i+3+16]):
			j := i + 3
			for j < len(s) && isHexByte(s[j]) {
				j++
			}
			b.WriteString("v1=" + redactedValue)
			i = j
			continue
		case s[i] == '"':
			if n := fieldAt(s[i:], fields); n > 0 {
				// s[i:i+n] is `"field"` plus optional space and colon and
				// the opening quote of the value.
				b.WriteString(s[i : i+n])
				j := i + n
				for j < len(s) && s[j] != '"' {
					if s[j] == '\\' {
						j++
					}
					j++
				}
				b.WriteString(redactedValue)
				i = min(j, len(s))
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func hasField(s string, fields []string) bool {
	for _, f := range fields {
		if f != "" && strings.Contains(s, `"`+f+`"`) {
			return true
		}
	}
	return false
}

// fieldAt returns the length of `"field"\s*:\s*"` at the start of s when
// field is one of fields, else 0.
func fieldAt(s string, fields []string) int {
	for _, f := range fields {
		if f == "" || !strings.HasPrefix(s, `"`+f+`"`) {
			continue
		}
		j := len(f) + 2
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j >= len(s) || s[j] != ':' {
			continue
		}
		j++
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == '"' {
			return j + 1
		}
	}
	return 0
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
func isHexByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return true
}
func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }
