package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// profiler fetches a CPU profile from the server under test while the load
// runs, and an allocation profile after it, if the server exposes
// net/http/pprof handlers (under pprofBase on the load's address).
type profiler struct {
	done chan struct{}
	err  error
	path string
}

func fetchTo(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s (does the server expose pprof there?)", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startCPUProfile asks for a profile of d (whole seconds, at least 1).
func startCPUProfile(ctx context.Context, addr, pprofBase, dir, name string, d time.Duration) *profiler {
	p := &profiler{done: make(chan struct{}), path: filepath.Join(dir, name+".cpu.pprof")}
	secs := max(1, int(d.Seconds()))
	url := "http://" + addr + pprofBase + "/profile?seconds=" + strconv.Itoa(secs)
	go func() {
		defer close(p.done)
		p.err = fetchTo(ctx, url, p.path, d+15*time.Second)
	}()
	return p
}

// wait returns the profile's path, or an error.
func (p *profiler) wait() (string, error) {
	<-p.done
	return p.path, p.err
}

func fetchAllocProfile(ctx context.Context, addr, pprofBase, dir, name string) (string, error) {
	path := filepath.Join(dir, name+".allocs.pprof")
	return path, fetchTo(ctx, "http://"+addr+pprofBase+"/allocs", path, 15*time.Second)
}
