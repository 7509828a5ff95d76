package edge

import (
	"context"
	"time"

	"github.com/avapmesh/avap/bus"
)

// callZoned makes one attempt like call, preferring the executors of
// ExecuteOptions.Zone: it sends to the zone's subject first and, when no
// executor of the zone listens (the server answers "no responders" at
// once, so the request never ran), to the common subject every executor
// serves. Without a zone it is call.
func (x *executeAPI) callZoned(parent context.Context, st *execState, subject string, wait time.Duration) (retry bool) {
	if x.opts.Zone == "" {
		return x.call(parent, st, subject, wait)
	}
	zs, err := bus.ZoneExecSubject(x.opts.Zone, st.req.Lane)
	if err != nil {
		return x.call(parent, st, subject, wait)
	}
	retry = x.call(parent, st, zs, wait)
	if st.rep.Code != bus.CodeNoExecutor {
		return retry
	}
	return x.call(parent, st, subject, wait)
}
