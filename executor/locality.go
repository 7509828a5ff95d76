package executor

import (
	"fmt"

	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
)

// addZoneEndpoints serves every lane on its zone subject too, when the
// executor has a zone: edges of the zone send there first and fall back to
// the common subject when the zone has no executor (bus/locality.go). The
// zone endpoints share the lanes' queues and workers, so the bulkheads
// stay per lane, not per subject.
func (e *Executor) addZoneEndpoints(svc micro.Service) error {
	if e.opts.Zone == "" {
		return nil
	}
	for _, l := range e.lanes {
		subj, err := bus.ZoneExecSubject(e.opts.Zone, l.name)
		if err != nil {
			return fmt.Errorf("executor: zone %q: %w", e.opts.Zone, err)
		}
		if err := svc.AddEndpoint("zone-"+string(l.name), micro.HandlerFunc(func(r micro.Request) { e.admit(l, r) }),
			micro.WithEndpointSubject(subj)); err != nil {
			return fmt.Errorf("executor: add endpoint %s: %w", subj, err)
		}
	}
	return nil
}
