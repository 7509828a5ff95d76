package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// DefaultGCPercent is runtime.gc_percent's default. Nearly all garbage is
// per-request, so a GC cycle costs about the same at any heap size and
// fewer cycles mean less CPU per request: GOGC=400 measured 3-15 % less
// than Go's 100 on the trivial load. But the heap then peaks at 5x the
// live heap, and with audit on (its JetStream publishing keeps tens of MB
// live) serve peaked at 296 MB RSS under load with 400, 143 MB with 200 and
// 118 MB with 100 (target: < 256 MB). 200 keeps most of the gain inside
// the memory budget; raise it together with runtime.memory_limit where
// memory is plentiful.
const DefaultGCPercent = 200

// RuntimeConfig tunes the Go runtime of the process (runtime_tuning.go).
type RuntimeConfig struct {
	GCPercent   int      `koanf:"gc_percent" help:"heap growth between GC cycles, percent (GOGC); -1 = GC only at memory_limit; GOGC in the environment wins"`
	MemoryLimit ByteSize `koanf:"memory_limit" help:"soft limit of the Go runtime's memory (GOMEMLIMIT), e.g. 512MiB; 0 = none; GOMEMLIMIT in the environment wins"`
}

// validate checks runtime.*.
func (r RuntimeConfig) validate() []problem {
	var ps []problem
	switch {
	case r.GCPercent == -1 && r.MemoryLimit <= 0:
		ps = append(ps, problem{"runtime.gc_percent", "-1 (no proportional GC) needs runtime.memory_limit"})
	case r.GCPercent < -1 || r.GCPercent == 0 || r.GCPercent > 100000:
		ps = append(ps, problem{"runtime.gc_percent", "must be -1 or 1..100000"})
	}
	if r.MemoryLimit < 0 {
		ps = append(ps, problem{"runtime.memory_limit", "must not be negative"})
	}
	return ps
}

// applyRuntime sets the GC target and memory limit of the process, unless
// the operator set GOGC / GOMEMLIMIT in the environment (those win).
func applyRuntime(r RuntimeConfig, log *slog.Logger) {
	if os.Getenv("GOGC") == "" && r.GCPercent != 0 {
		debug.SetGCPercent(r.GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && r.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(r.MemoryLimit))
	}
	log.Debug("go runtime", "gc_percent", r.GCPercent, "memory_limit", r.MemoryLimit,
		"GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
}
