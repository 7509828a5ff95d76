package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// soakSample is one sampling window of a soak.
type soakSample struct {
	AtS    float64 `json:"at_s"` // end of the window, from the start of the soak
	RSSMB  float64 `json:"rss_mb"`
	RPS    float64 `json:"rps"`
	P99Ms  float64 `json:"p99_ms"`
	Errors uint64  `json:"errors"`
	Non2xx uint64  `json:"non_2xx"`
}

// soakReport is the outcome of --soak.
type soakReport struct {
	Date          string       `json:"date"`
	Host          hostInfo     `json:"host"`
	Engine        string       `json:"engine"`
	Bin           string       `json:"bin"`
	SaturationRPS float64      `json:"saturation_rps"`
	Rate          int          `json:"rate"`
	DurationS     float64      `json:"duration_s"`
	IdleRSSMB     float64      `json:"idle_rss_mb"`
	Samples       []soakSample `json:"samples"`
	RSSFirstMB    float64      `json:"rss_first_mb"`
	RSSLastMB     float64      `json:"rss_last_mb"`
	RSSMaxMB      float64      `json:"rss_max_mb"`
	SlopeMBPerMin float64      `json:"rss_slope_mb_per_min"` // least squares over all samples
	Requests      uint64       `json:"requests"`
	Errors        uint64       `json:"errors"`
	Non2xx        uint64       `json:"non_2xx"`
	Latency       latencyMs    `json:"latency_ms"`
	CPUPerReqUs   float64      `json:"cpu_us_per_req"`
	BytesPerReq   float64      `json:"rss_growth_bytes_per_req"` // (last - first) / requests after the first sample
	Failed        string       `json:"failed,omitempty"`
}

// slope returns the least-squares slope of ys over xs (0 for fewer than two
// distinct xs).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// runSoak holds the trivial script at a fixed rate on avap serve and samples
// RSS every cfg.SoakEvery.
func runSoak(ctx context.Context, cfg *config, o serverOpts, gen generator, h hostInfo, stderr io.Writer) (*soakReport, error) {
	s := allScenarios()[1] // trivial
	rep := &soakReport{Date: time.Now().UTC().Format(time.RFC3339), Host: h, Engine: gen.Name(), Bin: o.Bin}
	if cfg.Stub {
		rep.Bin = "stub"
	}
	c, err := startCluster(ctx, topoServe, o)
	if err != nil {
		rep.Failed = err.Error()
		return rep, err
	}
	defer func() {
		c.stop(10 * time.Second)
		if !cfg.Keep {
			c.cleanup()
		}
	}()
	pids := c.pids()
	if m, err := sumMem(pids); err == nil {
		rep.IdleRSSMB = mb(m.RSS)
	}
	if err := checkScenario(ctx, c.Addr, s, 15*time.Second); err != nil {
		rep.Failed = err.Error()
		return rep, err
	}
	rep.Rate = cfg.Rate
	if rep.Rate == 0 {
		fmt.Fprintln(stderr, "soak: measuring saturation (closed loop, 5s after warm-up)")
		if _, err := gen.Closed(ctx, c.Addr, s.Req, cfg.Connections, cfg.Warmup); err != nil {
			return rep, err
		}
		lr, err := gen.Closed(ctx, c.Addr, s.Req, cfg.Connections, 5*time.Second)
		if err != nil {
			return rep, err
		}
		rep.SaturationRPS = float64(lr.Requests) / lr.Elapsed.Seconds()
		rep.Rate = int(rep.SaturationRPS / 2)
	}
	fmt.Fprintf(stderr, "soak: %d req/s for %s, RSS every %s\n", rep.Rate, cfg.Soak, cfg.SoakEvery)
	fmt.Fprintf(stderr, "%8s %9s %9s %9s %7s %7s\n", "t s", "RSS MB", "req/s", "p99 ms", "errors", "non2xx")
	var total loadResult
	cpu0, _ := sumCPU(pids)
	start := time.Now()
	var xs, ys []float64
	for time.Since(start) < cfg.Soak && ctx.Err() == nil {
		win := min(cfg.SoakEvery, cfg.Soak-time.Since(start))
		lr, err := gen.Open(ctx, c.Addr, s.Req, rep.Rate, cfg.OverloadConns, win)
		if lr != nil {
			total.merge(lr)
		}
		if err != nil {
			break
		}
		if err := c.checkAlive(); err != nil {
			rep.Failed = err.Error()
			return rep, err
		}
		m, _ := sumMem(pids)
		smp := soakSample{
			AtS: time.Since(start).Seconds(), RSSMB: mb(m.RSS),
			RPS: float64(lr.Requests) / lr.Elapsed.Seconds(), P99Ms: ms(lr.Lat.Quantile(0.99)),
			Errors: lr.Errors, Non2xx: lr.non2xx(),
		}
		rep.Samples = append(rep.Samples, smp)
		xs, ys = append(xs, smp.AtS/60), append(ys, smp.RSSMB)
		fmt.Fprintf(stderr, "%8.0f %9.1f %9.0f %9.2f %7d %7d\n", smp.AtS, smp.RSSMB, smp.RPS, smp.P99Ms, smp.Errors, smp.Non2xx)
	}
	cpu1, _ := sumCPU(pids)
	rep.DurationS = time.Since(start).Seconds()
	rep.Requests, rep.Errors, rep.Non2xx = total.Requests, total.Errors, total.non2xx()
	rep.Latency = summarize(&total.Lat)
	if total.Requests > 0 {
		rep.CPUPerReqUs = (cpu1 - cpu0).Seconds() * 1e6 / float64(total.Requests)
	}
	if n := len(rep.Samples); n > 0 {
		rep.RSSFirstMB, rep.RSSLastMB = rep.Samples[0].RSSMB, rep.Samples[n-1].RSSMB
		for _, smp := range rep.Samples {
			rep.RSSMaxMB = max(rep.RSSMaxMB, smp.RSSMB)
		}
		rep.SlopeMBPerMin = slope(xs, ys)
		if n > 1 {
			var after float64
			for _, smp := range rep.Samples[1:] {
				after += smp.RPS * cfg.SoakEvery.Seconds()
			}
			if after > 0 {
				rep.BytesPerReq = (rep.RSSLastMB - rep.RSSFirstMB) * (1 << 20) / after
			}
		}
	}
	return rep, ctx.Err()
}

func writeSoakTable(w io.Writer, r *soakReport) {
	if r.Failed != "" {
		fmt.Fprintf(w, "soak FAILED: %s\n", r.Failed)
	}
	fmt.Fprintf(w, "avap-load soak %s engine=%s cpus=%d load=%s\n", r.Date, r.Engine, r.Host.CPUs, r.Host.LoadAvgBefore)
	fmt.Fprintf(w, "rate %d req/s (saturation %s) for %ss: %d requests, %d errors, %d non-2xx, p50 %s p99 %s p99.9 %s ms, %s CPU us/req\n",
		r.Rate, f0(r.SaturationRPS), f0(r.DurationS), r.Requests, r.Errors, r.Non2xx,
		f2(r.Latency.P50), f2(r.Latency.P99), f2(r.Latency.P999), f1(r.CPUPerReqUs))
	fmt.Fprintf(w, "RSS MB: idle %s, first sample %s, last %s, max %s; slope %s MB/min; growth %s bytes/request\n",
		f1(r.IdleRSSMB), f1(r.RSSFirstMB), f1(r.RSSLastMB), f1(r.RSSMaxMB), f2(r.SlopeMBPerMin), f1(r.BytesPerReq))
}
