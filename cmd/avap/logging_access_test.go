package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// accessPair logs the same records through accessHandler and through the
// handler newLogger builds, each into its own buffer.
type accessPair struct {
	fast, slow       *bytes.Buffer
	fastLog, slowLog *slog.Logger
}

func newAccessPair(format string) *accessPair {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug)
	p := &accessPair{fast: new(bytes.Buffer), slow: new(bytes.Buffer)}
	p.fastLog = slog.New(newAccessHandler(p.fast, format, lv))
	p.slowLog = newLogger(p.slow, format, lv)
	return p
}

func (p *accessPair) log(t *testing.T, with []slog.Attr, r slog.Record) {
	t.Helper()
	fh, sh := p.fastLog.Handler(), p.slowLog.Handler()
	if len(with) > 0 {
		fh, sh = fh.WithAttrs(with), sh.WithAttrs(with)
	}
	p.fast.Reset()
	p.slow.Reset()
	if err := fh.Handle(context.Background(), r.Clone()); err != nil {
		t.Fatal(err)
	}
	if err := sh.Handle(context.Background(), r.Clone()); err != nil {
		t.Fatal(err)
	}
	if p.fast.String() != p.slow.String() {
		t.Fatalf("lines differ\naccess: %q\nslog:   %q", p.fast.String(), p.slow.String())
	}
}

// tricky strings: what quoting and escaping decide on.
var accessStrings = []string{
	"", "plain", "with space", "a=b", `quo"te`, `back\slash`, "tab\there", "new\nline", "\r", "\x00\x01\x1f\x7f",
	"ünïcödé", "日本語", "\u2028\u2029", "\xff\xfe", "bad\xc3", "\u00a0nbsp", "\u200bzero-width", "emoji 🎉", "<>&",
	"/api/v1/execute", "127.0.0.1", "d55Q42wREmbO000043iBYv", "=", `"`, "\\", "\x7f",
}

func randomAccessString(r *rand.Rand) string {
	if r.IntN(3) > 0 {
		return accessStrings[r.IntN(len(accessStrings))]
	}
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func randomAccessAttr(r *rand.Rand) slog.Attr {
	keys := []string{"request_id", "path", "status", "token", "Authorization", "a b", "k=v", "x", "db_dsn", "ключ"}
	k := keys[r.IntN(len(keys))]
	if r.IntN(4) == 0 {
		k = randomAccessString(r)
		if k == "" {
			k = "empty"
		}
	}
	switch r.IntN(6) {
	case 0:
		return slog.Int(k, r.IntN(2000)-1000)
	case 1:
		return slog.Uint64(k, r.Uint64())
	case 2:
		return slog.Bool(k, r.IntN(2) == 0)
	case 3:
		return slog.Duration(k, time.Duration(r.Int64N(int64(10*time.Second))))
	default:
		return slog.String(k, randomAccessString(r))
	}
}

func TestAccessHandlerMatchesSlog(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	locs := []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -7*3600)}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2}
	for _, format := range []string{"text", "json"} {
		p := newAccessPair(format)
		for i := range 3000 {
			tm := time.Date(2000+rng.IntN(30), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1e9), locs[rng.IntN(len(locs))])
			if i%7 == 0 {
				tm = tm.Truncate(time.Millisecond) // trailing zeros in the fraction
			}
			r := slog.NewRecord(tm, levels[rng.IntN(len(levels))], randomAccessString(rng), 0)
			for range rng.IntN(12) {
				r.AddAttrs(randomAccessAttr(rng))
			}
			var with []slog.Attr
			if i%3 == 0 {
				with = []slog.Attr{slog.String("component", "edge"), randomAccessAttr(rng)}
			}
			p.log(t, with, r)
		}
	}
}

// TestAccessHandlerFallback: records the fast path does not cover are
// written by slog, whole, and never half by each.
func TestAccessHandlerFallback(t *testing.T) {
	tm := time.Date(2026, 11, 27, 18, 0, 0, 123456789, time.UTC)
	odd := map[string]slog.Attr{
		"group":    slog.Group("g", slog.String("a", "b")),
		"float":    slog.Float64("f", 1.5),
		"time":     slog.Time("t", tm),
		"any":      slog.Any("err", errors.New("boom")),
		"empty":    slog.String("", "v"),
		"valuer":   slog.Any("v", accessValuer{}),
		"emptygrp": slog.Group("e"),
	}
	for _, format := range []string{"text", "json"} {
		p := newAccessPair(format)
		for name, a := range odd {
			t.Run(format+"/"+name, func(t *testing.T) {
				r := slog.NewRecord(tm, slog.LevelInfo, "request", 0)
				r.AddAttrs(slog.String("request_id", "x"), a, slog.Int("status", 200))
				p.log(t, nil, r)
				p.log(t, []slog.Attr{a}, slog.NewRecord(tm, slog.LevelInfo, "request", 0))
				if strings.Count(p.fast.String(), "\n") != 1 {
					t.Fatalf("want one line, got %q", p.fast.String())
				}
			})
		}
		t.Run(format+"/zero time", func(t *testing.T) {
			p.log(t, nil, slog.NewRecord(time.Time{}, slog.LevelInfo, "request", 0))
		})
		t.Run(format+"/year 10000", func(t *testing.T) {
			p.log(t, nil, slog.NewRecord(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "m", 0))
		})
		t.Run(format+"/group", func(t *testing.T) {
			fh := p.fastLog.Handler().WithGroup("g").WithAttrs([]slog.Attr{slog.Int("n", 1)})
			sh := p.slowLog.Handler().WithGroup("g").WithAttrs([]slog.Attr{slog.Int("n", 1)})
			p.fast.Reset()
			p.slow.Reset()
			r := slog.NewRecord(tm, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.String("a", "b"))
			_ = fh.Handle(context.Background(), r.Clone())
			_ = sh.Handle(context.Background(), r.Clone())
			if p.fast.String() != p.slow.String() {
				t.Fatalf("%q != %q", p.fast.String(), p.slow.String())
			}
		})
	}
}

type accessValuer struct{}

func (accessValuer) LogValue() slog.Value { return slog.StringValue("resolved value") }

func TestAccessHandlerRedactsAndFilters(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	log := slog.New(newAccessHandler(&buf, "text", lv))
	log.Info("request", "path", "/a")
	if buf.Len() != 0 {
		t.Fatalf("info written at warn: %q", buf.String())
	}
	log.Warn("request", "api_key", "s3cret", "status", 503)
	if got := buf.String(); strings.Contains(got, "s3cret") || !strings.Contains(got, "api_key="+redacted) || !strings.Contains(got, "status=503") {
		t.Fatalf("line %q", got)
	}
}

// TestAccessHandlerConcurrent: lines written at once stay whole.
func TestAccessHandlerConcurrent(t *testing.T) {
	w := &lockedBuffer{}
	lv := new(slog.LevelVar)
	log := slog.New(newAccessHandler(w, "json", lv)).With("component", "edge")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				log.Info("request", "request_id", fmt.Sprintf("%d-%d", g, i), "path", strings.Repeat("p", i), "status", 200)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"time":"`) || !strings.HasSuffix(l, `,"status":200}`) || !strings.Contains(l, `"component":"edge"`) {
			t.Fatalf("torn line %q", l)
		}
	}
}

func FuzzAccessHandler(f *testing.F) {
	for _, s := range accessStrings {
		f.Add("path", s, "request", int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, key, val, msg string, n int64) {
		tm := time.Unix(0, n).UTC()
		for _, format := range []string{"text", "json"} {
			p := newAccessPair(format)
			r := slog.NewRecord(tm, slog.Level(n%16), msg, 0)
			r.AddAttrs(slog.String(key, val), slog.Int64("n", n), slog.Duration("d", time.Duration(n)))
			p.log(t, []slog.Attr{slog.String(val, key)}, r)
		}
	})
}

func BenchmarkAccessHandler(b *testing.B) {
	for _, format := range []string{"text", "json"} {
		for _, impl := range []string{"slog", "access"} {
			b.Run(format+"/"+impl, func(b *testing.B) {
				lv := new(slog.LevelVar)
				var h slog.Handler
				if impl == "slog" {
					h = newLogger(io.Discard, format, lv).Handler()
				} else {
					h = newAccessHandler(io.Discard, format, lv)
				}
				h = h.WithAttrs([]slog.Attr{slog.String("component", "edge")})
				b.ReportAllocs()
				for b.Loop() {
					r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
					r.AddAttrs(
						slog.String("request_id", "d55Q42wREmbO000043iBYv"), slog.String("method", "POST"),
						slog.String("path", "/api/v1/execute"), slog.Int("status", 200),
						slog.Duration("duration", 1234567*time.Nanosecond), slog.Int("bytes_in", 57),
						slog.Int("bytes_out", 160), slog.String("remote", "127.0.0.1"),
					)
					_ = h.Handle(context.Background(), r)
				}
			})
		}
	}
}
