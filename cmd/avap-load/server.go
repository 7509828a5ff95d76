package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverOpts says how to start the processes under test.
type serverOpts struct {
	Bin     string   // the avap binary
	Self    string   // this harness's executable, for the baseline/stub server
	Stub    bool     // serve topology runs the harness's stub instead of avap (harness development)
	Env     []string // extra KEY=VALUE for every avap process
	WorkDir string   // scratch root; each cluster gets a fresh directory under it
	Ready   time.Duration
}

// proc is one child process.
type proc struct {
	Role    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cluster is the set of processes one scenario runs against.
type cluster struct {
	Procs        []*proc
	Addr         string        // HTTP host:port the load goes to
	StartToReady time.Duration // first process start to /readyz 200
	dir          string
}

func (c *cluster) pids() []int {
	out := make([]int, len(c.Procs))
	for i, p := range c.Procs {
		out[i] = p.pid()
	}
	return out
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// childEnv is the harness's environment without any AVAP_ variable (so a
// developer's shell settings can't change what is measured), plus kv.
func childEnv(kv ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AVAP_") {
			env = append(env, e)
		}
	}
	return append(env, kv...)
}

func startProc(dir, role, bin string, args, env []string) (*proc, error) {
	logPath := filepath.Join(dir, role+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = lf, lf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	p := &proc{Role: role, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// startCluster starts the processes of topology t and waits until the HTTP
// side answers /readyz with 200. On error everything started is stopped.
func startCluster(ctx context.Context, t topology, o serverOpts) (c *cluster, err error) {
	dir, err := os.MkdirTemp(o.WorkDir, string(t)+"-")
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir}
	defer func() {
		if err != nil {
			tail := c.logTail(15)
			c.stop(5 * time.Second)
			if tail != "" {
				err = fmt.Errorf("%w\n%s", err, tail)
			}
			c = nil
		}
	}()
	if c.Addr, err = freeAddr(); err != nil {
		return c, err
	}
	add := func(role, bin string, args []string, kv ...string) error {
		if err := os.MkdirAll(filepath.Join(dir, role), 0o755); err != nil {
			return err
		}
		p, err := startProc(dir, role, bin, args, childEnv(append(kv, o.Env...)...))
		if err != nil {
			return err
		}
		c.Procs = append(c.Procs, p)
		return nil
	}
	data := func(role string) string { return "AVAP_DATA_DIR=" + filepath.Join(dir, role) }
	start := time.Now()
	switch {
	case t == topoBaseline || (t == topoServe && o.Stub):
		// The stub gets no extra env: it is not avap.
		p, err := startProc(dir, "baseline", o.Self, []string{baselineCommand}, childEnv("AVAP_HTTP_ADDR="+c.Addr))
		if err != nil {
			return c, err
		}
		c.Procs = append(c.Procs, p)
	case t == topoServe:
		if err := add("serve", o.Bin, []string{"serve"}, "AVAP_HTTP_ADDR="+c.Addr, data("serve")); err != nil {
			return c, err
		}
	case t == topoSplit && o.Stub:
		return c, errors.New("split needs a real avap binary (not --stub)")
	case t == topoSplit:
		natsAddr, err := freeAddr()
		if err != nil {
			return c, err
		}
		url := "AVAP_NATS_URL=nats://" + natsAddr
		if err := add("nats", o.Bin, []string{"nats"}, "AVAP_NATS_LISTEN="+natsAddr, data("nats"), "AVAP_HTTP_ADDR="+mustFreeAddr()); err != nil {
			return c, err
		}
		if err := waitTCP(ctx, natsAddr, c, o.Ready); err != nil {
			return c, fmt.Errorf("nats node: %w", err)
		}
		for i := 1; i <= 2; i++ {
			role := "executor" + strconv.Itoa(i)
			if err := add(role, o.Bin, []string{"executor"}, url, data(role), "AVAP_HTTP_ADDR="+mustFreeAddr()); err != nil {
				return c, err
			}
		}
		if err := add("edge", o.Bin, []string{"edge"}, url, data("edge"), "AVAP_HTTP_ADDR="+c.Addr); err != nil {
			return c, err
		}
	default:
		return c, fmt.Errorf("unknown topology %q", t)
	}
	if err := waitReady(ctx, c.Addr, c, o.Ready); err != nil {
		return c, err
	}
	c.StartToReady = time.Since(start)
	return c, nil
}

func mustFreeAddr() string {
	a, err := freeAddr()
	if err != nil {
		return "127.0.0.1:0"
	}
	return a
}

// checkAlive fails if any process of c has exited.
func (c *cluster) checkAlive() error {
	for _, p := range c.Procs {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.Role, p.waitErr)
		}
	}
	return nil
}

const pollEvery = 5 * time.Millisecond

func waitTCP(ctx context.Context, addr string, c *cluster, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if err := c.checkAlive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting after %s: %w", addr, timeout, err)
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return err
		}
	}
}

func waitReady(ctx context.Context, addr string, c *cluster, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if err := c.checkAlive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /readyz on %s not 200 after %s: %s", addr, timeout, last)
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stop sends SIGTERM to every process, the last started first (edge before
// executors before NATS), waits up to grace for each and then kills it. It
// returns how long the graceful part took and an error naming every process
// that had to be killed.
func (c *cluster) stop(grace time.Duration) (time.Duration, error) {
	start := time.Now()
	var errs []error
	for i := len(c.Procs) - 1; i >= 0; i-- {
		p := c.Procs[i]
		if p.exited() {
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s ignored SIGTERM for %s: killed", p.Role, grace))
		}
	}
	return time.Since(start), errors.Join(errs...)
}

// cleanup removes the cluster's scratch directory.
func (c *cluster) cleanup() { os.RemoveAll(c.dir) }

// logTail returns the last n lines of each process's log.
func (c *cluster) logTail(n int) string {
	var b strings.Builder
	for _, p := range c.Procs {
		data, err := os.ReadFile(p.logPath)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s (%s) last %d lines:\n%s\n", p.Role, p.logPath, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}
