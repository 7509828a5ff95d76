package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports (the kernel fixes it for
// userspace); reading sysconf(_SC_CLK_TCK) would need cgo.
const clockTicks = 100

// procMem is what /proc/<pid>/status says about a process's memory, in bytes.
type procMem struct {
	RSS int64 // VmRSS: resident now
	HWM int64 // VmHWM: peak resident since start
}

// parseProcStatus reads VmRSS and VmHWM from the text of /proc/<pid>/status.
func parseProcStatus(b []byte) (procMem, error) {
	var m procMem
	var haveRSS, haveHWM bool
	for line := range bytes.Lines(b) {
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst, haveRSS = &m.RSS, true
		case "VmHWM":
			dst, haveHWM = &m.HWM, true
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return m, fmt.Errorf("proc status: empty %s", key)
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return m, fmt.Errorf("proc status: %s: %w", key, err)
		}
		mul := int64(1)
		if len(f) > 1 {
			switch string(f[1]) {
			case "kB":
				mul = 1024
			default:
				return m, fmt.Errorf("proc status: %s: unknown unit %q", key, f[1])
			}
		}
		*dst = n * mul
	}
	if !haveRSS || !haveHWM {
		return m, errors.New("proc status: VmRSS or VmHWM missing (kernel thread or zombie?)")
	}
	return m, nil
}

// parseProcStatCPU returns user+system CPU time from the text of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// itself contain spaces and parentheses, so fields are counted from the last
// ')'.
func parseProcStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no ')' after comm")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after comm, want >= 13", len(f))
	}
	ut, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat: utime: %w", err)
	}
	st, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat: stime: %w", err)
	}
	return ticksToDuration(ut + st), nil
}

func ticksToDuration(t uint64) time.Duration {
	return time.Duration(t) * (time.Second / clockTicks)
}

// readProcMem reads /proc/<pid>/status.
func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procMem{}, err
	}
	return parseProcStatus(b)
}

// readProcCPU reads user+system CPU time of pid from /proc/<pid>/stat.
func readProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(b)
}
