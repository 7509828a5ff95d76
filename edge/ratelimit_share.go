package edge

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
)

// busUsage is bus.RateUsage (aliased to keep the limiter's file free of
// the bus import).
type busUsage = bus.RateUsage

// Sharing consumption between edges (bus.RateUsageSubject).
//
// Every edge keeps its own token buckets and admits or refuses locally (no
// network round trip on the hot path). Every ShareInterval T it publishes
// the requests it admitted per key and endpoint bucket; every other edge
// takes those tokens out of its own bucket of the same key (they may go
// negative). Each bucket therefore sees the whole cluster's consumption,
// late by at most T plus the NATS propagation delay d (sub-millisecond on
// one server, a few ms across a cluster).
//
// Error bound: over any window W, with E edges, limit r and burst b, the
// cluster admits at most r·W + E·b + (E−1)·r·(T+d) requests for one key —
// each edge may spend its full bucket, and admit up to r·(T+d) that it
// has not yet seen spent elsewhere. With the defaults (T = 50 ms) and two
// edges that is r·W + 2b + 0.05·r: the sharing test checks it. Per-IP
// buckets are not shared (clients are pinned by the load balancer, and a
// flood of distinct addresses must not flood the mesh).
type rateShare struct {
	l    *limiter
	nc   *nats.Conn
	node string
	sub  *nats.Subscription
	stop chan struct{}
	done chan struct{}
}

func startRateShare(l *limiter, nc *nats.Conn, node string, interval time.Duration, onErr func(error)) (*rateShare, error) {
	r := &rateShare{l: l, nc: nc, node: node, stop: make(chan struct{}), done: make(chan struct{})}
	if nc == nil {
		l.share = false
		go r.loop(interval, onErr) // sweeps only
		return r, nil
	}
	sub, err := bus.SubscribeRateUsage(nc, node, func(key string, n uint32) {
		l.consumeRemote(key, n, time.Now())
	})
	if err != nil {
		return nil, err
	}
	r.sub = sub
	go r.loop(interval, onErr)
	return r, nil
}

func (r *rateShare) loop(interval time.Duration, onErr func(error)) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	var us []busUsage
	var buf []byte
	sweep := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			us = r.l.drain(us[:0])
			if len(us) > 0 && r.nc != nil {
				var err error
				if buf, err = bus.PublishRateUsage(r.nc, r.node, us, buf); err != nil && onErr != nil {
					onErr(err)
				}
				if cap(buf) > 1<<20 {
					buf = nil
				}
			}
			if now.Sub(sweep) > DefaultBucketIdle/2 {
				r.l.sweep(now)
				sweep = now
			}
		}
	}
}

func (r *rateShare) close() {
	close(r.stop)
	<-r.done
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}
