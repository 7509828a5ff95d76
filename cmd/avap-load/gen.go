package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// loadResult is what one load phase measured on the client side.
type loadResult struct {
	Elapsed  time.Duration  // from the first request to the last answer
	Requests uint64         // answered requests (any status) plus transport errors
	Status   map[int]uint64 // answers by HTTP status
	Errors   uint64         // transport errors: refused, reset, timeout
	ErrorMsg []string       // a few distinct transport error messages
	Lat      Hist           // every answered request
	Lat2xx   Hist           // answers with a 2xx status
	Lat503   Hist           // answers with 503 (shed)
	Offered  uint64         // open loop: requests the pacer scheduled
	Dropped  uint64         // open loop: scheduled but not sent, every connection busy
}

func (r *loadResult) merge(o *loadResult) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	for k, v := range o.Status {
		if r.Status == nil {
			r.Status = map[int]uint64{}
		}
		r.Status[k] += v
	}
	for _, m := range o.ErrorMsg {
		r.addErrorMsg(m)
	}
	r.Lat.Merge(&o.Lat)
	r.Lat2xx.Merge(&o.Lat2xx)
	r.Lat503.Merge(&o.Lat503)
	r.Offered += o.Offered
	r.Dropped += o.Dropped
}

const maxErrorMsgs = 5

func (r *loadResult) addErrorMsg(m string) {
	if len(r.ErrorMsg) >= maxErrorMsgs {
		return
	}
	for _, x := range r.ErrorMsg {
		if x == m {
			return
		}
	}
	r.ErrorMsg = append(r.ErrorMsg, m)
}

func (r *loadResult) record(status int, lat time.Duration, err error) {
	r.Requests++
	if err != nil {
		r.Errors++
		r.addErrorMsg(err.Error())
		return
	}
	if r.Status == nil {
		r.Status = map[int]uint64{}
	}
	r.Status[status]++
	r.Lat.Record(lat)
	switch {
	case status >= 200 && status < 300:
		r.Lat2xx.Record(lat)
	case status == 503:
		r.Lat503.Record(lat)
	}
}

// non2xx counts answers whose status is not 2xx.
func (r *loadResult) non2xx() uint64 {
	var n uint64
	for k, v := range r.Status {
		if k < 200 || k >= 300 {
			n += v
		}
	}
	return n
}

// generator produces load against addr ("127.0.0.1:port").
type generator interface {
	// Closed keeps conns connections busy for d, each sending its next request
	// as soon as the previous one is answered (max throughput at N connections).
	Closed(ctx context.Context, addr string, req request, conns int, d time.Duration) (*loadResult, error)
	// Open schedules rate requests per second for d on at most maxConns
	// connections, whatever the answers' speed.
	Open(ctx context.Context, addr string, req request, rate, maxConns int, d time.Duration) (*loadResult, error)
	Name() string
}

// requestTimeout bounds every request, so that no request waits unbounded.
const requestTimeout = 10 * time.Second

func newGenerator(name string) (generator, error) {
	switch name {
	case "fasthttp":
		return fastGen{}, nil
	case "vegeta":
		return vegetaGen{}, nil
	}
	return nil, fmt.Errorf("unknown engine %q (have fasthttp, vegeta)", name)
}

// fastGen is a closed-loop (and paced open-loop) generator on fasthttp's
// client: one goroutine per connection, no per-request allocation.
type fastGen struct{}

func (fastGen) Name() string { return "fasthttp" }

func newHostClient(addr string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                          addr,
		MaxConns:                      conns,
		MaxConnWaitTimeout:            requestTimeout,
		ReadTimeout:                   requestTimeout,
		WriteTimeout:                  requestTimeout,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}
}

func prepare(fr *fasthttp.Request, addr string, req request) {
	fr.SetRequestURI("http://" + addr + req.Path)
	fr.Header.SetMethod(req.Method)
	if req.Body != nil {
		fr.Header.SetContentType("application/json")
		fr.SetBody(req.Body)
	}
}

func (fastGen) Closed(ctx context.Context, addr string, req request, conns int, d time.Duration) (*loadResult, error) {
	hc := newHostClient(addr, conns)
	defer hc.CloseIdleConnections()
	parts := make([]loadResult, conns)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			r := &parts[i]
			fr, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(fr)
			defer fasthttp.ReleaseResponse(resp)
			prepare(fr, addr, req)
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				err := hc.Do(fr, resp)
				r.record(resp.StatusCode(), time.Since(t0), err)
				if err != nil && !errors.Is(err, fasthttp.ErrTimeout) {
					time.Sleep(time.Millisecond) // refused or reset: don't spin
				}
			}
		})
	}
	wg.Wait()
	out := &loadResult{Elapsed: time.Since(start)}
	for i := range parts {
		out.merge(&parts[i])
	}
	return out, ctx.Err()
}

// pacerTick is how often the open-loop pacer wakes up to hand out the
// requests that have fallen due; sleeping per request is too coarse at
// tens of thousands per second.
const pacerTick = 500 * time.Microsecond

// dueBy returns how many requests are due after elapsed at rate per second.
func dueBy(elapsed time.Duration, rate int) uint64 {
	if elapsed <= 0 || rate <= 0 {
		return 0
	}
	return uint64(elapsed.Seconds() * float64(rate))
}

func (fastGen) Open(ctx context.Context, addr string, req request, rate, maxConns int, d time.Duration) (*loadResult, error) {
	hc := newHostClient(addr, maxConns)
	defer hc.CloseIdleConnections()
	parts := make([]loadResult, maxConns)
	ticks := make(chan struct{}, maxConns)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			r := &parts[i]
			fr, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(fr)
			defer fasthttp.ReleaseResponse(resp)
			prepare(fr, addr, req)
			for range ticks {
				t0 := time.Now()
				err := hc.Do(fr, resp)
				r.record(resp.StatusCode(), time.Since(t0), err)
			}
		})
	}
	var offered, dropped uint64
	start := time.Now()
	t := time.NewTicker(pacerTick)
pace:
	for {
		elapsed := time.Since(start)
		if elapsed >= d {
			elapsed = d
		}
		for due := dueBy(elapsed, rate); offered < due; offered++ {
			select {
			case ticks <- struct{}{}:
			default:
				dropped++ // every connection busy and the queue full
			}
		}
		if elapsed >= d {
			break
		}
		select {
		case <-ctx.Done():
			break pace
		case <-t.C:
		}
	}
	t.Stop()
	close(ticks)
	wg.Wait()
	out := &loadResult{Elapsed: time.Since(start), Offered: offered, Dropped: dropped}
	for i := range parts {
		out.merge(&parts[i])
	}
	return out, ctx.Err()
}
