package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/registry"
)

// More read-at-scrape-time metrics: edge guard decisions, circuit
// breakers, job queues and the dead-letter queue; plus the registry
// service's actions, counted from its audit hook (rare events).

// observeProtect exports the edge guard's counters (Server.ProtectStats):
// rate-limit and other rejections, admissions, buckets held.
func observeProtect(w wiring, s *edge.Server) {
	if s == nil {
		return
	}
	rl := prometheus.NewDesc("avap_edge_ratelimit_decisions_total",
		"Requests refused with 429 by scope (ip, key, route, inflight: the per-address in-flight cap).", []string{"scope", "decision"}, nil)
	rej := prometheus.NewDesc("avap_edge_guard_rejected_total",
		"Requests refused by the edge guard by reason (validation: 400/413/415, auth: 401 key, signature: 401 signature, forbidden: 403).", []string{"reason"}, nil)
	adm := prometheus.NewDesc("avap_edge_guard_admitted_total",
		"Requests admitted with credentials by kind (key, signature).", []string{"via"}, nil)
	bk := prometheus.NewDesc("avap_edge_ratelimit_buckets", "Rate-limit buckets held in memory.", nil, nil)
	w.Tel.register(funcCollector{descs: []*prometheus.Desc{rl, rej, adm, bk}, collect: func(ch chan<- prometheus.Metric) {
		st := s.ProtectStats()
		c := prometheus.CounterValue
		ch <- prometheus.MustNewConstMetric(rl, c, float64(st.RejectedRateIP), "ip", "rejected")
		ch <- prometheus.MustNewConstMetric(rl, c, float64(st.RejectedRateKey), "key", "rejected")
		ch <- prometheus.MustNewConstMetric(rl, c, float64(st.RejectedRateRoute), "route", "rejected")
		ch <- prometheus.MustNewConstMetric(rl, c, float64(st.RejectedInflight), "inflight", "rejected")
		ch <- prometheus.MustNewConstMetric(rej, c, float64(st.RejectedValidation), "validation")
		ch <- prometheus.MustNewConstMetric(rej, c, float64(st.RejectedAuth), "auth")
		ch <- prometheus.MustNewConstMetric(rej, c, float64(st.RejectedSignature), "signature")
		ch <- prometheus.MustNewConstMetric(rej, c, float64(st.RejectedForbidden), "forbidden")
		ch <- prometheus.MustNewConstMetric(adm, c, float64(st.Authenticated), "key")
		ch <- prometheus.MustNewConstMetric(adm, c, float64(st.Signed), "signature")
		ch <- prometheus.MustNewConstMetric(bk, prometheus.GaugeValue, float64(st.Buckets))
	}})
}

// observeBreakers exports the process's circuit breakers (Group.Stats):
// avap_breaker_state{name} (0 closed, 1 half-open, 2 open) and counters
// of transitions, openings and refused calls. A breaker appears once
// something used it.
func observeBreakers(t *telemetry, g *breaker.Group) {
	if g == nil {
		return
	}
	l := []string{"name"}
	state := prometheus.NewDesc("avap_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", l, nil)
	tr := prometheus.NewDesc("avap_breaker_transitions_total", "Circuit breaker state changes.", l, nil)
	op := prometheus.NewDesc("avap_breaker_opened_total", "Times the circuit breaker opened.", l, nil)
	rj := prometheus.NewDesc("avap_breaker_rejected_total", "Calls refused while the circuit breaker was open.", l, nil)
	since := prometheus.NewDesc("avap_breaker_state_since_timestamp_seconds", "When the circuit breaker last changed state.", l, nil)
	t.register(funcCollector{descs: []*prometheus.Desc{state, tr, op, rj, since}, collect: func(ch chan<- prometheus.Metric) {
		for _, s := range g.Stats() {
			ch <- prometheus.MustNewConstMetric(state, prometheus.GaugeValue, breaker.StateValue(s.State), s.Name)
			ch <- prometheus.MustNewConstMetric(tr, prometheus.CounterValue, float64(s.Transitions), s.Name)
			ch <- prometheus.MustNewConstMetric(op, prometheus.CounterValue, float64(s.Opened), s.Name)
			ch <- prometheus.MustNewConstMetric(rj, prometheus.CounterValue, float64(s.Rejected), s.Name)
			ch <- prometheus.MustNewConstMetric(since, prometheus.GaugeValue, float64(s.Since.UnixNano())/1e9, s.Name)
		}
	}})
}

// observeJobQueues exports the jobs' JetStream streams at scrape time:
// avap_jobs_queued{priority} and avap_jobs_dlq_size. They are
// cluster-wide values that every executor reports (use max() across
// instances). A scrape that cannot reach JetStream within a second
// omits them.
func observeJobQueues(w wiring, j *bus.Jobs) {
	if j == nil {
		return
	}
	queued := prometheus.NewDesc("avap_jobs_queued", "Jobs waiting in the queue by priority (cluster-wide).", []string{"priority"}, nil)
	dlq := prometheus.NewDesc("avap_jobs_dlq_size", "Jobs in the dead-letter queue (cluster-wide).", nil, nil)
	js := j.JetStream()
	w.Tel.register(funcCollector{descs: []*prometheus.Desc{queued, dlq}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		msgs := func(name string) (float64, bool) {
			s, err := js.Stream(ctx, name)
			if err != nil {
				return 0, false
			}
			info, err := s.Info(ctx)
			if err != nil {
				return 0, false
			}
			return float64(info.State.Msgs), true
		}
		for _, p := range bus.Priorities() {
			name, err := bus.JobStream(p)
			if err != nil {
				continue
			}
			if n, ok := msgs(name); ok {
				ch <- prometheus.MustNewConstMetric(queued, prometheus.GaugeValue, n, string(p))
			}
		}
		if n, ok := msgs(bus.JobsDLQStream); ok {
			ch <- prometheus.MustNewConstMetric(dlq, prometheus.GaugeValue, n)
		}
	}})
}

// countRegistryActions wraps the registry service's audit hook to count
// avap_registry_actions_total{action} (publish, deprecate, revoke,
// activate, refused).
func countRegistryActions(w wiring, next func(registry.AuditEvent)) func(registry.AuditEvent) {
	if w.Tel.Registerer() == nil {
		return next
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avap_registry_actions_total",
		Help: "Registry service catalogue changes by action (publish, deprecate, revoke, activate, refused)."}, []string{"action"})
	for _, a := range []string{"publish", "deprecate", "revoke", "activate", "refused"} {
		c.WithLabelValues(a) // series exist at zero from the start
	}
	w.Tel.register(c)
	return func(e registry.AuditEvent) {
		switch e.Action {
		case "publish", "deprecate", "revoke", "activate", "refused":
			c.WithLabelValues(e.Action).Inc()
		default:
			c.WithLabelValues("other").Inc()
		}
		next(e)
	}
}
