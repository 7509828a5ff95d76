package main

import (
	"sync"
	"time"
)

// rssSampler polls VmRSS of a set of processes and keeps the peak of their
// sum. VmHWM alone can't give a per-scenario peak when a process serves more
// than one phase (warm-up, probe), so both are reported.
type rssSampler struct {
	pids []int
	stop chan struct{}
	wg   sync.WaitGroup

	mu   sync.Mutex // guards peak
	peak int64
}

func startRSSSampler(pids []int, every time.Duration) *rssSampler {
	s := &rssSampler{pids: pids, stop: make(chan struct{})}
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	})
	return s
}

func (s *rssSampler) sample() {
	sum, _ := sumMem(s.pids)
	s.mu.Lock()
	s.peak = max(s.peak, sum.RSS)
	s.mu.Unlock()
}

// Stop ends sampling and returns the peak summed RSS in bytes.
func (s *rssSampler) Stop() int64 {
	close(s.stop)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// sumMem adds up RSS and HWM of pids; processes that are gone are skipped
// and reported by the error.
func sumMem(pids []int) (procMem, error) {
	var sum procMem
	var firstErr error
	for _, pid := range pids {
		m, err := readProcMem(pid)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		sum.RSS += m.RSS
		sum.HWM += m.HWM
	}
	return sum, firstErr
}

// sumCPU adds up user+system CPU time of pids.
func sumCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	var firstErr error
	for _, pid := range pids {
		c, err := readProcCPU(pid)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		sum += c
	}
	return sum, firstErr
}
