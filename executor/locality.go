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

// addNodeEndpoints serves every lane on the executor's own node subject
// (bus.ExecNodeSubject), outside the shared queue group: edges send the
// requests of a session there (session affinity) and fall back to the
// common subject when this executor is gone. Like the zone endpoints they
// share the lanes' queues and workers.
func (e *Executor) addNodeEndpoints(svc micro.Service) error {
	for _, l := range e.lanes {
		subj, err := bus.ExecNodeSubject(e.id, l.name)
		if err != nil {
			return fmt.Errorf("executor: node subject of %q: %w", e.id, err)
		}
		if err := svc.AddEndpoint("node-"+string(l.name), micro.HandlerFunc(func(r micro.Request) { e.admit(l, r) }),
			micro.WithEndpointSubject(subj), micro.WithEndpointQueueGroupDisabled()); err != nil {
			return fmt.Errorf("executor: add endpoint %s: %w", subj, err)
		}
	}
	return nil
}
