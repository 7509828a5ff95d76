package vm

import (
	"context"
	"errors"
	"sync/atomic"
)

// Machine runs programs. It is reusable (pool it) but not safe for
// concurrent Runs.
type Machine struct {
	cancel atomic.Pointer[error]
}

// NewMachine returns a Machine ready to Run programs.
func NewMachine() *Machine { return &Machine{} }

// Run executes p with input in under the limits lim.
func (m *Machine) Run(ctx context.Context, p *Program, in *Input, lim Limits) (*Result, error) {
	return nil, errors.New("vm: Run not implemented yet")
}

// Cancel stops the current run as soon as possible. It is safe to call from
// any goroutine; the first cause wins.
func (m *Machine) Cancel(cause error) {
	if cause == nil {
		cause = ErrCanceled
	}
	m.cancel.CompareAndSwap(nil, &cause)
}
