package edge

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// DefaultInFlightPerCPU sizes the default in-flight cap of the execution
// routes: this many requests per GOMAXPROCS. It is as large as the default
// executor queue (executor.DefaultQueuePerWorker, GOMAXPROCS workers), so
// on a serve node this cap answers the excess before the executor queue
// overflows. At 256 per CPU a short script admitted at the cap waits a few
// milliseconds (256 runs of ~15 us per worker), and bursts of a client at
// half the saturating rate are not shed (at 64 per CPU, 0.1-1 % of such a
// load got 503 on a 2-core machine).
const DefaultInFlightPerCPU = 256

// admission is the global in-flight cap of the execution routes. A request
// beyond it is answered 503 AVAP_OVERLOADED with Retry-After at once,
// before its body is read or anything is sent to the mesh: under overload
// the excess is refused in microseconds instead of waiting in the NATS and
// executor queues only to be refused there, and the admitted requests keep
// their latency. The executors' bounded queues stay as the second line.
//
// The cap has two levels, in the manner of CoDel (which judges a queue by
// how long it stays long, not by how long it is): up to a quarter of max
// ("soft") requests are always admitted; above that, a burst is admitted up
// to max as long as the in-flight count has been above soft for less than
// standingQueue. A queue that stands longer is overload, not a burst: for
// overloadHold only soft requests are admitted and the excess gets its 503
// at once; then bursts are admitted again (and overload, if it persists, is
// detected again standingQueue later). So bursts of a client at half the
// saturating rate are absorbed instead of shed, and under sustained
// overload the admitted requests keep a short queue.
type admission struct {
	max      int64
	inFlight atomic.Int64
	shed     atomic.Uint64
	// above is when the in-flight count rose above soft (unix ns), 0 while
	// it is at or below.
	above atomic.Int64
	// holdUntil ends the current overload period (unix ns).
	holdUntil atomic.Int64
}

// standingQueue is how long the in-flight count may stay above soft before
// it counts as overload; overloadHold is how long overload then keeps the
// count at soft.
const (
	standingQueue = 20 * time.Millisecond
	overloadHold  = 500 * time.Millisecond
)

// maxInFlight resolves ExecuteOptions.MaxInFlight: 0 = default, < 0 = no cap.
func maxInFlight(n int) int64 {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return int64(DefaultInFlightPerCPU * runtime.GOMAXPROCS(0))
	}
	return int64(n)
}

func (a *admission) soft() int64 { return max(a.max/4, 1) }

// enter admits one request or reports that it must be shed; now is the
// clock (unix ns), read only above soft.
func (a *admission) enter(now func() int64) bool {
	n := a.inFlight.Add(1)
	if n <= a.soft() {
		if a.above.Load() != 0 {
			a.above.Store(0)
		}
		return true
	}
	if n <= a.max {
		t := now()
		if t >= a.holdUntil.Load() {
			since := a.above.Load()
			if since == 0 {
				a.above.CompareAndSwap(0, t) // the count just rose above soft
				return true
			}
			if t-since < int64(standingQueue) {
				return true // a burst
			}
			a.holdUntil.Store(t + int64(overloadHold)) // a standing queue: overload
		}
	}
	a.inFlight.Add(-1)
	a.shed.Add(1)
	return false
}

// leave ends an admitted request.
func (a *admission) leave() {
	if a.inFlight.Add(-1) <= a.soft() && a.above.Load() != 0 {
		a.above.Store(0)
	}
}

func unixNano() int64 { return time.Now().UnixNano() }

// admit is the first handler of each execution route.
func (x *executeAPI) admit(c *fiber.Ctx) error {
	a := &x.adm
	if a.max <= 0 {
		return c.Next()
	}
	if !a.enter(unixNano) {
		return x.sendError(c, nil, bus.CodeOverloaded, "too many requests in flight; retry later")
	}
	defer a.leave()
	return c.Next()
}
