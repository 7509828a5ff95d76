package edge

import (
	"runtime"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// DefaultInFlightPerCPU sizes the default in-flight cap of the execution
// routes: this many requests per GOMAXPROCS. With the default executor
// (GOMAXPROCS workers and a queue of 32 per worker) a serve node has about
// 33 requests per CPU it can hold without making them wait behind a long
// queue; twice that keeps the executors busy through bursts while a
// request admitted at the cap still waits only a few milliseconds for
// short scripts.
const DefaultInFlightPerCPU = 64

// admission is the global in-flight cap of the execution routes. A request
// beyond it is answered 503 AVAP_OVERLOADED with Retry-After at once,
// before its body is read or anything is sent to the mesh: under overload
// the excess is refused in microseconds instead of waiting in the NATS and
// executor queues only to be refused there, and the admitted requests keep
// their latency. The executors' bounded queues stay as the second line.
type admission struct {
	max      int64
	inFlight atomic.Int64
	shed     atomic.Uint64
}

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

// admit is the first handler of each execution route.
func (x *executeAPI) admit(c *fiber.Ctx) error {
	a := &x.adm
	if a.max <= 0 {
		return c.Next()
	}
	if a.inFlight.Add(1) > a.max {
		a.inFlight.Add(-1)
		a.shed.Add(1)
		return x.sendError(c, nil, bus.CodeOverloaded, "too many requests in flight; retry later")
	}
	defer a.inFlight.Add(-1)
	return c.Next()
}
