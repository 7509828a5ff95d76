package executor

import (
	"sync/atomic"

	"github.com/nats-io/nats.go/micro"
)

// counters are updated by the workers and read by Statz.
type counters struct {
	runs        atomic.Int64
	errors      atomic.Int64
	overloads   atomic.Int64
	inFlight    atomic.Int64
	cacheHits   atomic.Int64
	cacheMisses atomic.Int64
}

// Stats is a snapshot of an executor's activity. It is the "data" of each
// endpoint in the micro $SRV.STATS reply, so the edge can show it in
// /api/v1/info.
type Stats struct {
	ID             string         `json:"id"`
	Runs           int64          `json:"runs"`      // successful runs
	Errors         int64          `json:"errors"`    // failed requests, overloads excluded
	Overloads      int64          `json:"overloads"` // requests refused with AVAP_OVERLOADED
	InFlight       int64          `json:"in_flight"` // runs in progress
	Queued         map[string]int `json:"queued"`    // admitted, not yet running, per lane
	Workers        map[string]int `json:"workers"`   // pool size per lane
	QueueCapacity  map[string]int `json:"queue_capacity"`
	CacheHits      int64          `json:"cache_hits"`
	CacheMisses    int64          `json:"cache_misses"`
	CachedPrograms int            `json:"cached_programs"`
}

// Statz computes the current Stats.
func (e *Executor) Statz() Stats {
	s := Stats{
		ID:             e.id,
		Runs:           e.stats.runs.Load(),
		Errors:         e.stats.errors.Load(),
		Overloads:      e.stats.overloads.Load(),
		InFlight:       e.stats.inFlight.Load(),
		Queued:         make(map[string]int, len(e.lanes)),
		Workers:        make(map[string]int, len(e.lanes)),
		QueueCapacity:  make(map[string]int, len(e.lanes)),
		CacheHits:      e.stats.cacheHits.Load(),
		CacheMisses:    e.stats.cacheMisses.Load(),
		CachedPrograms: e.progs.len(),
	}
	for _, l := range e.lanes {
		s.Queued[string(l.name)] = len(l.q)
		s.Workers[string(l.name)] = l.workers
		s.QueueCapacity[string(l.name)] = cap(l.q)
	}
	return s
}

// endpointStats is the micro StatsHandler.
func (e *Executor) endpointStats(*micro.Endpoint) any { return e.Statz() }
