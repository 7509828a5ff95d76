package vm_test

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time used by the calling OS thread (the
// benchmarks lock their goroutine to it), so that figures stay meaningful
// on a loaded machine.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
