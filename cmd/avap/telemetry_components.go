package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/registry"
	"github.com/avapmesh/avap/registry/audit"
	"github.com/avapmesh/avap/registry/postgres"
)

// Metrics of components that keep their own counters (Stats methods): read
// at scrape time, so they cost the components nothing.

// observeDurable registers the job runner, audit emitter and sink, and the
// PostgreSQL pool of an executor (wire_jobs.go); nil parts are skipped.
func observeDurable(w wiring, runner *executor.JobRunner, emitter *bus.AuditEmitter, sink *audit.Sink, db *postgres.DB) {
	if runner != nil {
		type stat struct {
			name, help string
			typ        prometheus.ValueType
			v          func(executor.JobStats) float64
		}
		stats := []stat{
			{"avap_jobs_started_total", "Job attempts started.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Started) }},
			{"avap_jobs_succeeded_total", "Jobs that succeeded.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Succeeded) }},
			{"avap_jobs_failed_total", "Job attempts that failed.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Failed) }},
			{"avap_jobs_retried_total", "Job attempts scheduled for a retry.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Retried) }},
			{"avap_jobs_dead_lettered_total", "Jobs moved to the dead-letter queue.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Dead) }},
			{"avap_jobs_lost_total", "Job attempts found abandoned by a dead executor.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Lost) }},
			{"avap_jobs_canceled_total", "Jobs canceled.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.Canceled) }},
			{"avap_jobs_running", "Jobs running on this executor.", prometheus.GaugeValue, func(s executor.JobStats) float64 { return float64(s.Running) }},
			{"avap_jobs_workers", "Job workers configured.", prometheus.GaugeValue, func(s executor.JobStats) float64 { return float64(s.ConfiguredWorker) }},
			{"avap_jobs_callbacks_delivered_total", "Job callbacks delivered.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.CallbacksOK) }},
			{"avap_jobs_callbacks_failed_total", "Job callbacks given up.", prometheus.CounterValue, func(s executor.JobStats) float64 { return float64(s.CallbacksFailed) }},
		}
		descs := make([]*prometheus.Desc, len(stats))
		for i, s := range stats {
			descs[i] = prometheus.NewDesc(s.name, s.help, nil, nil)
		}
		w.Tel.register(funcCollector{descs: descs, collect: func(ch chan<- prometheus.Metric) {
			js := runner.Stats()
			for i, s := range stats {
				ch <- prometheus.MustNewConstMetric(descs[i], s.typ, s.v(js))
			}
		}})
	}
	if emitter != nil {
		d := []*prometheus.Desc{
			prometheus.NewDesc("avap_audit_events_total", "Audit events by result (emitted, dropped: buffer full, failed: not acknowledged).", []string{"result"}, nil),
			prometheus.NewDesc("avap_audit_backlog", "Audit events buffered, waiting to be published.", nil, nil),
		}
		w.Tel.register(funcCollector{descs: d, collect: func(ch chan<- prometheus.Metric) {
			s := emitter.Stats()
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.CounterValue, float64(s.Emitted), "emitted")
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.CounterValue, float64(s.Dropped), "dropped")
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.CounterValue, float64(s.Failed), "failed")
			ch <- prometheus.MustNewConstMetric(d[1], prometheus.GaugeValue, float64(s.Queued))
		}})
	}
	if sink != nil {
		d := []*prometheus.Desc{
			prometheus.NewDesc("avap_audit_sink_written_total", "Audit events stored by the sink.", nil, nil),
			prometheus.NewDesc("avap_audit_sink_write_errors_total", "Failed audit sink writes.", nil, nil),
		}
		w.Tel.register(funcCollector{descs: d, collect: func(ch chan<- prometheus.Metric) {
			s := sink.Stats()
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.CounterValue, float64(s.Written))
			ch <- prometheus.MustNewConstMetric(d[1], prometheus.CounterValue, float64(s.WriteErrors))
		}})
	}
	if db != nil {
		observePostgres(w, db)
	}
}

// observePostgres registers the pgx pool statistics (avap_pg_pool_*).
func observePostgres(w wiring, db *postgres.DB) {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	descs := []*prometheus.Desc{
		d("avap_pg_pool_connections", "PostgreSQL connections open (idle and acquired)."),
		d("avap_pg_pool_idle_connections", "Idle PostgreSQL connections."),
		d("avap_pg_pool_acquired_connections", "PostgreSQL connections in use."),
		d("avap_pg_pool_max_connections", "PostgreSQL pool size."),
		d("avap_pg_pool_acquires_total", "Connections acquired from the pool."),
		d("avap_pg_pool_empty_acquires_total", "Acquires that waited for a connection."),
		d("avap_pg_pool_acquire_wait_seconds_total", "Time spent acquiring connections."),
		d("avap_pg_pool_new_connections_total", "PostgreSQL connections opened."),
		d("avap_pg_up", "Whether the pool holds an open PostgreSQL connection (1) or not (0)."),
	}
	w.Tel.register(funcCollector{descs: descs, collect: func(ch chan<- prometheus.Metric) {
		s := db.Stats()
		g, c := prometheus.GaugeValue, prometheus.CounterValue
		ch <- prometheus.MustNewConstMetric(descs[0], g, float64(s.Total))
		ch <- prometheus.MustNewConstMetric(descs[1], g, float64(s.Idle))
		ch <- prometheus.MustNewConstMetric(descs[2], g, float64(s.Acquired))
		ch <- prometheus.MustNewConstMetric(descs[3], g, float64(s.Max))
		ch <- prometheus.MustNewConstMetric(descs[4], c, float64(s.Acquires))
		ch <- prometheus.MustNewConstMetric(descs[5], c, float64(s.EmptyAcquires))
		ch <- prometheus.MustNewConstMetric(descs[6], c, s.AcquireDuration.Seconds())
		ch <- prometheus.MustNewConstMetric(descs[7], c, float64(s.NewConns))
		up := 0.0
		if s.Total > 0 {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descs[8], g, up)
	}})
}

// observeRegistryCache registers the executor's registry cache lookups per
// tier (avap_registry_lookups_total{tier,result}).
func observeRegistryCache(w wiring, c *registry.Cache) {
	if c == nil {
		return
	}
	d := prometheus.NewDesc("avap_registry_lookups_total", "Registry cache lookups by tier (l1, l2, local, l3) and result (hit, miss).", []string{"tier", "result"}, nil)
	w.Tel.register(funcCollector{descs: []*prometheus.Desc{d}, collect: func(ch chan<- prometheus.Metric) {
		for tier, hm := range c.Stats() {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(hm[0]), tier, "hit")
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(hm[1]), tier, "miss")
		}
	}})
}

// observeExecutor adds the executor's pool state and registry cache to
// /debug/vars and the cache's lookups to the metrics.
func observeExecutor(w wiring, e *executor.Executor, reg *registryCache) {
	w.Tel.addDebug("executor", func(context.Context) any { return e.Statz() })
	if reg != nil && reg.c != nil {
		observeRegistryCache(w, reg.c)
		w.Tel.addDebug("registry_cache", func(context.Context) any { return reg.c.Stats() })
	}
}
