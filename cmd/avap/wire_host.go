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
//
// h (or nil) is the running config: with it, a reload reads the connector
// DSNs again and applies a rotated password to new connections
// (secrets_connectors.go).
func newHost(cfg *Config, log *slog.Logger, breakers *breaker.Group, h *configHolder) (*executor.Host, error) {
	o, err := cfg.hostOptions()
	if err != nil {
		return nil, err
	}
	if h != nil {
		watchConnectorDSNs(h, log, &o)
	}
	o.Logger = log
	o.Breakers = breakers
	return executor.NewHost(o)
}
