package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

const statusSample = `Name:	avap
Umask:	0022
State:	S (sleeping)
Tgid:	4242
VmPeak:	 1300000 kB
VmSize:	 1250000 kB
VmHWM:	   48000 kB
VmRSS:	   40960 kB
RssAnon:	   30000 kB
Threads:	9
`

func TestParseProcStatus(t *testing.T) {
	m, err := parseProcStatus([]byte(statusSample))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 40960*1024 || m.HWM != 48000*1024 {
		t.Errorf("got %+v", m)
	}
	for _, bad := range []string{
		"Name:\tkthreadd\nState:\tS\n", // kernel thread: no Vm lines
		"VmHWM:\tlots kB\nVmRSS:\t1 kB\n",
		"VmHWM:\t1 MB\nVmRSS:\t1 kB\n",
		"VmHWM:\nVmRSS:\t1 kB\n",
	} {
		if _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime and stime; the comm contains ") (" to
	// show that fields are counted from the last ')'.
	stat := "4242 (av) (ap x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 12345 1250000000 10240 18446744073709551615\n"
	got, err := parseProcStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "4242 (avap S 1 2", "4242 (avap) S 1 2 3", "4242 (avap) S 1 2 3 4 5 6 7 8 9 10 x 1 0 0"} {
		if _, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	m, err := readProcMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("implausible memory %+v", m)
	}
	if _, err := readProcCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	sum, err := sumMem([]int{os.Getpid(), -1})
	if err == nil || !strings.Contains(err.Error(), "-1") || sum.RSS <= 0 {
		t.Errorf("sumMem with a missing pid: %+v, %v", sum, err)
	}
}
