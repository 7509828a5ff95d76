package main

import (
	"log/slog"

	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/executor"
)

// newHost builds the executor's Host (RequestGet/RequestPost behind
// executor.egress, SQL connectors of executor.connectors). The executor
// closes it on Shutdown. breakers (or nil) guards each destination host
// of RequestGet/RequestPost with a circuit breaker ("http:<host>").
func newHost(cfg *Config, log *slog.Logger, breakers *breaker.Group) (*executor.Host, error) {
	o, err := cfg.hostOptions()
	if err != nil {
		return nil, err
	}
	o.Logger = log
	o.Breakers = breakers
	return executor.NewHost(o)
}
