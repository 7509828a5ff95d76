//go:build !linux

package vm_test

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
