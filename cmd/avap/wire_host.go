package main

import (
	"log/slog"

	"github.com/avapmesh/avap/executor"
)

// newHost builds the executor's Host (RequestGet/RequestPost behind
// executor.egress, SQL connectors of executor.connectors). The executor
// closes it on Shutdown.
func newHost(cfg *Config, log *slog.Logger) (*executor.Host, error) {
	o, err := cfg.hostOptions()
	if err != nil {
		return nil, err
	}
	o.Logger = log
	return executor.NewHost(o)
}
