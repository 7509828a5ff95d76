// Command avap-load is the load harness of the AVAP server: it builds (or
// takes) the avap binary, starts it on a free loopback port with a scratch
// data directory, runs named scenarios against it and prints a table (and
// optionally JSON) of throughput, latency, errors, memory and CPU, each
// scenario also as a ratio to a bare Fiber baseline measured in the same run.
//
// Every process it starts is on 127.0.0.1, dies with the harness, and is
// stopped with SIGTERM at the end of its scenario; the run is bounded in
// time. See README.md beside this file.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// config is the parsed command line.
type config struct {
	Scenarios     string
	Duration      time.Duration
	Warmup        time.Duration
	Connections   int
	OverloadConns int
	JSON          string
	Bin           string
	Engine        string
	Env           []string
	Stub          bool
	Soak          time.Duration
	SoakEvery     time.Duration
	Rate          int
	ReadyTimeout  time.Duration
	Keep          bool
	Profile       string
	PprofBase     string
	PprofAddr     string
}

type envFlag struct{ dst *[]string }

func (e envFlag) String() string { return "" }
func (e envFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e.dst = append(*e.dst, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("avap-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Scenarios, "scenarios", "all", "comma-separated scenarios: "+scenarioNames(allScenarios()))
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured load per scenario")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "unmeasured load before each scenario (connections, caches, JIT of the runtime)")
	fs.IntVar(&c.Connections, "connections", 64, "concurrent connections (closed loop)")
	fs.IntVar(&c.OverloadConns, "overload-connections", 0, "connections available to the open-loop overload and soak load (0 = 4 x --connections)")
	fs.StringVar(&c.JSON, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&c.Bin, "bin", "", "avap binary to test (default: go build ./cmd/avap of this module)")
	fs.StringVar(&c.Engine, "engine", "fasthttp", "load generator: fasthttp (closed loop, one goroutine per connection) or vegeta (vegeta/v12 attacker, max-rate mode)")
	fs.Var(envFlag{&c.Env}, "env", "extra KEY=VALUE for every avap process (repeatable), e.g. --env AVAP_LOG_LEVEL=warn")
	fs.BoolVar(&c.Stub, "stub", false, "run serve scenarios against the harness's own stub server instead of avap (to test the harness)")
	fs.DurationVar(&c.Soak, "soak", 0, "instead of scenarios: hold the trivial script at --rate (default half of saturation) for this long on avap serve, sampling RSS")
	fs.DurationVar(&c.SoakEvery, "soak-every", 10*time.Second, "soak sampling interval")
	fs.IntVar(&c.Rate, "rate", 0, "soak: requests per second (0 = half of the measured saturation); overload: offered rate (0 = 2 x saturation)")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", 30*time.Second, "how long a server may take to answer /readyz with 200")
	fs.BoolVar(&c.Keep, "keep", false, "keep the scratch directory (server logs, data dirs)")
	fs.StringVar(&c.Profile, "profile", "", "write CPU (during the load) and allocation (after it) profiles of each avap scenario to this directory; needs net/http/pprof on the server")
	fs.StringVar(&c.PprofBase, "pprof-path", "/debug/pprof", "path of the server's pprof handlers")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "host:port serving pprof (default: the HTTP address under test)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Connections < 1 {
		return nil, errors.New("--connections must be >= 1")
	}
	if c.Duration <= 0 {
		return nil, errors.New("--duration must be > 0")
	}
	if c.OverloadConns == 0 {
		c.OverloadConns = 4 * c.Connections
	}
	if _, err := newGenerator(c.Engine); err != nil {
		return nil, err
	}
	if _, err := selectScenarios(c.Scenarios); err != nil {
		return nil, err
	}
	return c, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == baselineCommand {
		if err := runBaselineServer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "avap-load:", err)
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "avap-load:", err)
		os.Exit(1)
	}
}

// budget bounds the whole run, so the harness always stops by itself.
func budget(cfg *config, nScenarios int) time.Duration {
	build := 5 * time.Minute
	if cfg.Soak > 0 {
		return build + cfg.Soak + 2*time.Minute
	}
	per := cfg.Duration + cfg.Warmup + cfg.ReadyTimeout + 30*time.Second
	return build + time.Duration(nScenarios)*per
}

func run(cfg *config, stdout, stderr io.Writer) error {
	scs, err := selectScenarios(cfg.Scenarios)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, budget(cfg, len(scs)))
	defer cancelT()

	work, err := os.MkdirTemp("", "avap-load-")
	if err != nil {
		return err
	}
	if cfg.Keep {
		fmt.Fprintln(stderr, "scratch directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o := serverOpts{Self: self, Stub: cfg.Stub, Env: cfg.Env, WorkDir: work, Ready: cfg.ReadyTimeout, Bin: cfg.Bin}
	needAvap := cfg.Soak > 0 && !cfg.Stub
	for _, s := range scs {
		if s.Topology != topoBaseline && !cfg.Stub {
			needAvap = true
		}
	}
	if needAvap && o.Bin == "" {
		if o.Bin, err = buildAvap(ctx, work, stderr); err != nil {
			return err
		}
	}
	gen, _ := newGenerator(cfg.Engine)
	h := collectHostInfo()

	if cfg.Soak > 0 {
		rep, err := runSoak(ctx, cfg, o, gen, h, stderr)
		if rep != nil {
			writeSoakTable(stdout, rep)
			if cfg.JSON != "" {
				if werr := writeJSONFile(cfg.JSON, rep); werr != nil {
					err = errors.Join(err, werr)
				}
			}
		}
		return err
	}

	rep := &runReport{
		Date: time.Now().UTC().Format(time.RFC3339), Host: h, Engine: gen.Name(),
		Connections: cfg.Connections, DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(), Bin: o.Bin,
	}
	if cfg.Stub {
		rep.Bin = "stub"
	}
	var saturation float64
	for _, s := range scs {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "== %s: %s\n", s.Name, s.Desc)
		r := runScenario(ctx, cfg, o, gen, s, saturation, stderr)
		if s.Name == "trivial" && r.Failed == "" {
			saturation = r.RPS
		}
		if r.Failed != "" {
			fmt.Fprintf(stderr, "   FAILED: %s\n", r.Failed)
		} else {
			fmt.Fprintf(stderr, "   %s req/s, p99 %s ms, non-2xx %d, errors %d\n", f0(r.RPS), f2(r.Latency.P99), r.Non2xx, r.Errors)
		}
		rep.Scenarios = append(rep.Scenarios, r)
	}
	rep.Host.LoadAvgAfter = loadAvg()
	setRatios(rep.Scenarios)
	if err := writeTable(stdout, rep); err != nil {
		return err
	}
	if cfg.JSON != "" {
		if err := writeJSONFile(cfg.JSON, rep); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run cut short: %w", err)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeJSON(f, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// buildAvap builds ./cmd/avap of the module the harness is run from.
func buildAvap(ctx context.Context, work string, stderr io.Writer) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root (go env GOMOD): %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the avap module: run from the repository or pass --bin")
	}
	bin := filepath.Join(work, "avap")
	start := time.Now()
	fmt.Fprintln(stderr, "building ./cmd/avap ...")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/avap")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/avap: %w", err)
	}
	fmt.Fprintf(stderr, "built in %s\n", time.Since(start).Round(time.Millisecond))
	return bin, nil
}

func collectHostInfo() hostInfo {
	h := hostInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// checkScenario sends one request and validates the answer with s.Check.
// While the answer is a transport error, 502 or 503 (executors still joining)
// it retries for up to wait.
func checkScenario(ctx context.Context, addr string, s scenario, wait time.Duration) error {
	hc := newHostClient(addr, 1)
	defer hc.CloseIdleConnections()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	prepare(req, addr, s.Req)
	deadline := time.Now().Add(wait)
	for {
		err := hc.DoTimeout(req, resp, 5*time.Second)
		transient := err != nil || resp.StatusCode() == 502 || resp.StatusCode() == 503
		if !transient {
			return s.Check(resp.StatusCode(), resp.Body())
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("check request: %w", err)
			}
			return fmt.Errorf("check request: still %d after %s: %.300s", resp.StatusCode(), wait, resp.Body())
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// runScenario starts the scenario's processes, checks one answer, warms up,
// measures, and stops the processes.
func runScenario(ctx context.Context, cfg *config, o serverOpts, gen generator, s scenario, saturation float64, stderr io.Writer) (r scenarioReport) {
	r = scenarioReport{Name: s.Name, Description: s.Desc, Topology: string(s.Topology), Mode: "closed", Connections: cfg.Connections}
	fail := func(err error) scenarioReport {
		r.Failed = err.Error()
		return r
	}
	c, err := startCluster(ctx, s.Topology, o)
	if err != nil {
		return fail(err)
	}
	defer func() {
		stopT, err := c.stop(10 * time.Second)
		r.Server.StopMs = ms(stopT)
		if err != nil {
			r.Server.StopError = err.Error()
		}
		if !cfg.Keep {
			c.cleanup()
		}
	}()
	pids := c.pids()
	r.Server.Processes = len(pids)
	r.Server.StartToReadyMs = ms(c.StartToReady)
	if m, err := sumMem(pids); err == nil {
		r.Server.IdleRSSMB = mb(m.RSS)
	}
	if err := checkScenario(ctx, c.Addr, s, 15*time.Second); err != nil {
		return fail(fmt.Errorf("%w\n%s", err, c.logTail(10)))
	}
	if cfg.Warmup > 0 {
		if _, err := gen.Closed(ctx, c.Addr, s.Req, cfg.Connections, cfg.Warmup); err != nil {
			return fail(err)
		}
	}
	if s.Mode == modeOverload && saturation == 0 && cfg.Rate == 0 {
		fmt.Fprintln(stderr, "   no trivial run before overload: probing saturation for 3s")
		lr, err := gen.Closed(ctx, c.Addr, s.Req, cfg.Connections, 3*time.Second)
		if err != nil {
			return fail(err)
		}
		saturation = float64(lr.Requests) / lr.Elapsed.Seconds()
	}

	self0, _ := readProcCPU(os.Getpid())
	cpu0, err := sumCPU(pids)
	if err != nil {
		return fail(fmt.Errorf("read server CPU: %w", err))
	}
	var prof *profiler
	pprofAddr := cmp.Or(cfg.PprofAddr, c.Addr)
	if cfg.Profile != "" && s.Topology != topoBaseline && !cfg.Stub {
		if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
			return fail(err)
		}
		prof = startCPUProfile(ctx, pprofAddr, cfg.PprofBase, cfg.Profile, s.Name, cfg.Duration)
	}
	samp := startRSSSampler(pids, 100*time.Millisecond)
	var lr *loadResult
	var rate int
	if s.Mode == modeOverload {
		r.Mode = "open"
		r.Connections = cfg.OverloadConns
		rate = cfg.Rate
		if rate == 0 {
			rate = int(2 * saturation)
		}
		lr, err = gen.Open(ctx, c.Addr, s.Req, rate, cfg.OverloadConns, cfg.Duration)
	} else {
		lr, err = gen.Closed(ctx, c.Addr, s.Req, cfg.Connections, cfg.Duration)
	}
	peak := samp.Stop()
	cpu1, _ := sumCPU(pids)
	self1, _ := readProcCPU(os.Getpid())
	if err != nil {
		return fail(err)
	}
	if prof != nil {
		if path, err := prof.wait(); err != nil {
			r.Profiles = append(r.Profiles, "cpu: "+err.Error())
		} else {
			r.Profiles = append(r.Profiles, path)
		}
		if path, err := fetchAllocProfile(ctx, pprofAddr, cfg.PprofBase, cfg.Profile, s.Name); err != nil {
			r.Profiles = append(r.Profiles, "allocs: "+err.Error())
		} else {
			r.Profiles = append(r.Profiles, path)
		}
	}
	if err := c.checkAlive(); err != nil {
		return fail(fmt.Errorf("%w\n%s", err, c.logTail(10)))
	}
	r.fillFromLoad(lr, max(s.Items, 1))
	r.Server.PeakRSSMB = mb(peak)
	if m, err := sumMem(pids); err == nil {
		r.Server.HWMMB = mb(m.HWM)
	}
	r.Server.CPUSeconds = (cpu1 - cpu0).Seconds()
	if lr.Requests > 0 {
		r.Server.CPUPerReqUs = r.Server.CPUSeconds * 1e6 / float64(lr.Requests)
	}
	r.LoadgenCPUS = (self1 - self0).Seconds()
	if s.Mode == modeOverload {
		r.Overload = &overloadStats{
			SaturationRPS: saturation,
			OfferedRPS:    float64(rate),
			SentRPS:       float64(lr.Requests) / lr.Elapsed.Seconds(),
			Dropped:       lr.Dropped,
			Admitted:      lr.Lat2xx.Count(),
			AdmittedLat:   summarize(&lr.Lat2xx),
			Shed:          lr.Lat503.Count(),
			ShedLat:       summarize(&lr.Lat503),
		}
	}
	return r
}
