package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// app is one invocation of the command line.
type app struct {
	start   time.Time
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	environ func() []string

	configFile  string
	checkConfig bool
	flagValues  map[string]*string // config key -> value of its flag
	persistent  *pflag.FlagSet
	geteuid     func() int // nil = os.Geteuid (privilege.go)
}

// configFlag binds a command-line flag to a config key.
type configFlag struct{ flag, key string }

// configFlags lists the config keys that have flags; every other key is set
// in the file or the environment.
func configFlags() []configFlag {
	return []configFlag{
		{"data-dir", "data_dir"},
		{"node-id", "node.id"},
		{"http-addr", "http.addr"},
		{"log-level", "log.level"},
		{"log-format", "log.format"},
		{"nats-url", "nats.url"},
		{"nats-listen", "nats.listen"},
	}
}

type usageError struct{ error }

func (a *app) main(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee exitCodeError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(a.stderr, "avap: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	// cobra's own command and argument errors.
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(err.Error(), p) {
			return exitUsage
		}
	}
	return exitError
}

// exitCodeError ends the process with code after the command already
// reported what went wrong.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit code %d", e.code) }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "avap",
		Short: "AVAP execution server",
		Long: `avap runs AVAP scripts behind an HTTP API, as one process or as a NATS mesh.

One binary plays every role:
  serve     all-in-one node: embedded NATS (JetStream, in-process, no TCP port
            unless nats.listen is set), registry, executor and HTTP edge
  edge      HTTP edge only; sends work over NATS (nats.url)
  executor  executor only; serves the executor queue group over NATS
  registry  command registry only (PostgreSQL is the source of truth)
  nats      a standalone NATS server node that can listen and join a cluster
  run       run a script locally and print the API's JSON envelope
  check     compile-check scripts and print every syntax error
  version   print version and build information
  health    probe a running node's /readyz (container health checks)

Configuration: defaults < YAML file (--config) < environment (AVAP_ + the
upper-snake key path, e.g. http.addr -> AVAP_HTTP_ADDR) < flags.
SIGHUP reloads the config file; SIGINT/SIGTERM drain and stop.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVarP(&a.configFile, "config", "c", "", "YAML config file")
	pf.BoolVar(&a.checkConfig, "check-config", false, "validate the configuration, print a digest and exit")
	pf.Bool(allowRootFlag, false, "server roles: allow running as root (euid 0) with non-loopback listeners (config allow_root)")
	help := map[string]string{}
	for _, k := range configKeys() {
		help[k.Key] = k.Help
	}
	a.flagValues = map[string]*string{}
	for _, f := range configFlags() {
		a.flagValues[f.key] = pf.String(f.flag, "", fmt.Sprintf("%s (config %s)", help[f.key], f.key))
	}
	a.persistent = pf

	role := func(name, short, long string) *cobra.Command {
		return &cobra.Command{
			Use:   name,
			Short: short,
			Long:  long,
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return a.runRole(cmd.Context(), name) },
		}
	}
	root.AddCommand(
		role(roleServe, "Run an all-in-one node (embedded NATS, registry, executor, edge)",
			`serve starts an embedded NATS server with JetStream stored under data_dir,
connects to it in-process (no TCP port unless nats.listen is set), then the
registry, the executor and the HTTP edge on http.addr, in that order.
It stops in reverse order on SIGINT/SIGTERM; SIGHUP reloads the config.`),
		role(roleEdge, "Run an HTTP edge node connected to nats.url",
			`edge serves the HTTP API on http.addr and sends work to executors over the
NATS server(s) at nats.url.`),
		role(roleExecutor, "Run an executor node connected to nats.url",
			`executor joins the executor queue group on the NATS server(s) at nats.url
and runs scripts sent by edges.`),
		role(roleRegistry, "Run the command registry connected to nats.url",
			`registry serves stored commands to executors over NATS; PostgreSQL
(postgres.dsn) is the source of truth.`),
		role(roleNATS, "Run a standalone NATS server node",
			`nats runs the embedded NATS server alone: clients on nats.listen
(default 127.0.0.1:4222), JetStream under data_dir, and, with
nats.cluster.listen, routes to the other nodes of nats.cluster.routes.`),
		a.runCommand(),
		a.execCommand(),
		a.checkCommand(),
		a.versionCommand(),
		a.healthCommand(),
		a.keysCommand(),
		a.commandsCommand(),
		a.cacheCommand(),
		a.meshCommand(), // mesh_cmd.go
		a.backupCommand(), a.restoreCommand(),
	)
	return root
}

// flagConfig returns the config keys set by flags on this command line.
func (a *app) flagConfig() map[string]string {
	m := map[string]string{}
	names := map[string]string{}
	for _, f := range configFlags() {
		names[f.flag] = f.key
	}
	// VisitAll + Changed: cobra parses persistent flags through the
	// subcommand's flag set, so this set's Visit would see none.
	a.persistent.VisitAll(func(f *pflag.Flag) {
		if key, ok := names[f.Name]; ok && f.Changed {
			m[key] = *a.flagValues[key]
		}
		if f.Name == allowRootFlag && f.Changed {
			m["allow_root"] = f.Value.String() // privilege.go
		}
	})
	return m
}

// loadConfig reads the configuration layers of this invocation.
func (a *app) loadConfig() (*loadResult, error) {
	return loadConfig(configSource{File: a.configFile, Env: a.environ(), Flags: a.flagConfig()})
}

// runRole runs a server role until it is told to stop.
func (a *app) runRole(ctx context.Context, role string) error {
	res, err := a.loadConfig()
	if err != nil {
		return err
	}
	if a.checkConfig {
		a.printDigest(res)
		return nil
	}
	cfg := res.Config
	rootWarning, err := rootPolicy(a.euid(), role, cfg) // refuse root unless allowed or loopback-only (privilege.go)
	if err != nil {
		return err
	}
	lv := new(slog.LevelVar)
	level, _ := parseLevel(cfg.Log.Level)
	lv.Set(level)
	logs, err := newProcessLogger(a.stderr, cfg, lv, readBuildInfo()) // log file, Sentry (logging_file.go)
	if err != nil {
		return err
	}
	defer logs.Close() // flushes Sentry and closes the log file after everything stopped
	log := logs.Log
	slog.SetDefault(log) // for third-party code only; our packages get log passed in
	for _, w := range res.Warnings {
		log.Warn(w)
	}
	applyRuntime(cfg.Runtime, log) // GC target, memory limit (runtime_tuning.go)
	raiseFileLimit(log)            // RLIMIT_NOFILE soft -> hard (rlimit_unix.go)
	if rootWarning != "" {
		log.Warn(rootWarning)
	}
	holder := newConfigHolder(cfg, a.loadConfig, log.With("component", "config"))
	holder.OnReload(func(old, cur *Config) {
		if old.Log.Level != cur.Log.Level {
			l, _ := parseLevel(cur.Log.Level)
			lv.Set(l)
		}
	})

	// Signals are registered before anything starts so none is lost.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	n, err := newNode(role, holder, logs, readBuildInfo(), a.start)
	if err != nil {
		return err
	}
	if err := n.run(ctx, sigs); err != nil {
		if errors.Is(err, errForcedExit) {
			return exitCodeError{exitError}
		}
		log.Error("avap failed", "err", err)
		return exitCodeError{exitError}
	}
	return nil
}

// printDigest prints the effective configuration, secrets redacted, with
// where each non-default value came from.
func (a *app) printDigest(res *loadResult) {
	src := "defaults"
	if a.configFile != "" {
		src = a.configFile
	}
	fmt.Fprintf(a.stdout, "configuration ok (%s)\n", src)
	cfgKeys := digestValues(res.Config)
	keys := make([]string, 0, len(cfgKeys))
	for k := range cfgKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line := fmt.Sprintf("%s = %s", k, cfgKeys[k])
		if o, ok := res.Origin[k]; ok {
			line += "  # " + o
		}
		fmt.Fprintln(a.stdout, line)
	}
}
