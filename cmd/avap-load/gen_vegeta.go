package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// vegetaGen drives load with vegeta's attacker (net/http client). Closed
// loop is vegeta's max-rate mode: a zero Rate with Workers = MaxWorkers =
// connections.
type vegetaGen struct{}

func (vegetaGen) Name() string { return "vegeta" }

func (g vegetaGen) Closed(ctx context.Context, addr string, req request, conns int, d time.Duration) (*loadResult, error) {
	atk := vegeta.NewAttacker(
		vegeta.Workers(uint64(conns)),
		vegeta.MaxWorkers(uint64(conns)),
		vegeta.Connections(conns),
		vegeta.MaxConnections(conns),
		vegeta.KeepAlive(true),
		vegeta.HTTP2(false),
		vegeta.Timeout(requestTimeout),
		vegeta.MaxBody(0), // latency and status only; don't keep bodies
	)
	return g.run(ctx, atk, addr, req, vegeta.Rate{}, d)
}

func (g vegetaGen) Open(ctx context.Context, addr string, req request, rate, maxConns int, d time.Duration) (*loadResult, error) {
	atk := vegeta.NewAttacker(
		vegeta.Workers(uint64(min(64, maxConns))),
		vegeta.MaxWorkers(uint64(maxConns)),
		vegeta.Connections(maxConns),
		vegeta.MaxConnections(maxConns),
		vegeta.KeepAlive(true),
		vegeta.HTTP2(false),
		vegeta.Timeout(requestTimeout),
		vegeta.MaxBody(0),
	)
	res, err := g.run(ctx, atk, addr, req, vegeta.Rate{Freq: rate, Per: time.Second}, d)
	if res != nil {
		res.Offered = dueBy(d, rate)
		if res.Offered > res.Requests {
			res.Dropped = res.Offered - res.Requests // vegeta blocks instead of dropping: never sent
		}
	}
	return res, err
}

func (vegetaGen) run(ctx context.Context, atk *vegeta.Attacker, addr string, req request, rate vegeta.Rate, d time.Duration) (*loadResult, error) {
	// Like the fasthttp engine, ask for no compression (net/http would add gzip).
	hdr := http.Header{"Accept-Encoding": {"identity"}}
	if req.Body != nil {
		hdr.Set("Content-Type", "application/json")
	}
	tr := vegeta.NewStaticTargeter(vegeta.Target{
		Method: req.Method,
		URL:    "http://" + addr + req.Path,
		Body:   req.Body,
		Header: hdr,
	})
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	out := &loadResult{}
	start := time.Now()
	for r := range atk.Attack(tr, rate, d, "") {
		var err error
		if r.Code == 0 {
			err = errors.New(r.Error)
		}
		out.record(int(r.Code), r.Latency, err)
	}
	out.Elapsed = time.Since(start)
	return out, ctx.Err()
}
