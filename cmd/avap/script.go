package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/syntax"
)

func (a *app) runCommand() *cobra.Command {
	var (
		params   []string
		vars     []string
		timeout  time.Duration
		maxSteps int64
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a script locally and print the JSON envelope",
		Long: `run compiles and runs FILE ("-" reads standard input) in this process and
prints the same JSON envelope as POST /api/v1/execute:
  {"success": true, "result": {...}, "variables": {...}, "logs": [...]}
or, on a syntax or runtime error (exit status 1):
  {"success": false, "error": "...", "code": "AVAP_...", "position": {"line": l, "column": c}}

Request parameters (addParam) come from --param, in order; --var pre-seeds
global variables with JSON values. Limits default to executor.limits.
Commands that leave the process (HTTP, SQL, connectors) are not available.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.loadConfig()
			if err != nil {
				return err
			}
			lim := res.Config.Executor.Limits.vmLimits()
			if cmd.Flags().Changed("timeout") {
				lim.Timeout = timeout
			}
			if cmd.Flags().Changed("max-steps") {
				lim.MaxSteps = maxSteps
			}
			in, err := scriptInput(params, vars)
			if err != nil {
				return usageError{err}
			}
			name, src, err := a.readScript(args[0])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			env := runScript(ctx, name, src, in, lim)
			if err := writeEnvelope(a.stdout, env); err != nil {
				return err
			}
			if !env.Success {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&params, "param", nil, "request parameter `name=value` (repeatable, in order)")
	f.StringArrayVar(&vars, "var", nil, "global variable `name=json` (repeatable); a value that is not JSON is a string")
	f.DurationVar(&timeout, "timeout", 0, "wall-clock limit (default executor.limits.timeout)")
	f.Int64Var(&maxSteps, "max-steps", 0, "instruction limit (default executor.limits.steps)")
	return cmd
}

func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Compile-check scripts and print every syntax error",
		Long: `check compiles each FILE without running it and prints every error as
file:line:col: message. It prints nothing and exits 0 when all files are
valid; otherwise it exits 1.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := false
			for _, file := range args {
				name, src, err := a.readScript(file)
				if err != nil {
					fmt.Fprintf(a.stderr, "%s: %v\n", file, err)
					failed = true
					continue
				}
				if _, err := vm.Compile(name, src, vm.CompileOptions{}); err != nil {
					failed = true
					var list syntax.ErrorList
					if errors.As(err, &list) {
						for _, e := range list {
							fmt.Fprintf(a.stdout, "%s:%d:%d: %s\n", name, e.Pos.Line, e.Pos.Col, e.Msg)
						}
					} else {
						fmt.Fprintf(a.stdout, "%s: %v\n", name, err)
					}
				}
			}
			if failed {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
}

func (a *app) versionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print version and build information",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := readBuildInfo()
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(map[string]string{
					"version": b.Version, "commit": b.Commit, "build_date": b.Date,
					"go_version": b.GoVersion, "platform": b.Platform,
				})
			}
			_, err := fmt.Fprintln(a.stdout, b.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) readScript(file string) (string, []byte, error) {
	if file == "-" {
		b, err := io.ReadAll(a.stdin)
		return "stdin", b, err
	}
	b, err := os.ReadFile(file)
	return file, b, err
}

// vmLimits converts config limits to vm.Limits.
func (l LimitsConfig) vmLimits() vm.Limits {
	return vm.Limits{
		MaxSteps:       l.Steps,
		Timeout:        l.Timeout,
		MaxMemoryBytes: int64(l.Memory),
		MaxCallDepth:   l.Depth,
		MaxOutputBytes: int64(l.Output),
	}
}

// scriptInput builds the run input from --param and --var flags.
func scriptInput(params, vars []string) (*vm.Input, error) {
	in := &vm.Input{}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want name=value", p)
		}
		in.Query = append(in.Query, vm.Param{Name: k, Value: v})
	}
	if len(vars) > 0 {
		m := make(map[string]json.RawMessage, len(vars))
		for _, p := range vars {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--var %q: want name=json", p)
			}
			if json.Valid([]byte(v)) {
				m[k] = json.RawMessage(v)
			} else {
				s, _ := json.Marshal(v)
				m[k] = s
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		in.Variables = b
	}
	return in, nil
}

// runScript compiles and runs one script and returns its envelope.
func runScript(ctx context.Context, name string, src []byte, in *vm.Input, lim vm.Limits) *envelope {
	p, err := vm.Compile(name, src, vm.CompileOptions{})
	if err != nil {
		return errorEnvelopeFor(err)
	}
	res, err := vm.NewMachine().Run(ctx, p, in, lim)
	if err != nil {
		return errorEnvelopeFor(err)
	}
	return &envelope{
		Success:   true,
		Result:    nonNullObject(res.Result),
		Variables: nonNullObject(res.Variables),
		Logs:      nonNilLogs(res.Logs),
	}
}

func nonNullObject(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return json.RawMessage("{}")
	}
	return m
}

func nonNilLogs(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
