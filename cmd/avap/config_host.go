package main

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/avapmesh/avap/executor"
)

// EgressConfig bounds RequestGet and RequestPost (executor.EgressPolicy).
type EgressConfig struct {
	Allow       []string      `koanf:"allow" help:"hosts scripts may reach: names, *.wildcards, IPs, CIDRs; empty = any public address; loopback/private/link-local/metadata addresses need an IP/CIDR entry or the exact name"`
	Timeout     time.Duration `koanf:"timeout" help:"per RequestGet/RequestPost, always within the run's time limit"`
	MaxResponse ByteSize      `koanf:"max_response" help:"largest response body a script may receive (also charged to its memory limit)"`
}

// ConnectorConfig is one SQL connector (PostgreSQL), the value of
// executor.connectors.<name>; scripts name it with avapConnector("<name>").
// Its DSN is a secret: it comes from a file or an environment variable,
// never from the config file itself.
type ConnectorConfig struct {
	DSNFile          string        `koanf:"dsn_file"`
	DSNEnv           string        `koanf:"dsn_env"`
	ReadOnly         bool          `koanf:"read_only"`
	StatementTimeout time.Duration `koanf:"statement_timeout"`
	MaxConns         int32         `koanf:"max_conns"`
}

func defaultEgressConfig() EgressConfig {
	return EgressConfig{Allow: []string{}, Timeout: executor.DefaultHTTPTimeout, MaxResponse: executor.DefaultMaxResponseBytes}
}

// validateHost checks executor.egress and executor.connectors.
func (c *Config) validateHost() []problem {
	var ps []problem
	add := func(key, format string, args ...any) { ps = append(ps, problem{key, fmt.Sprintf(format, args...)}) }
	if _, err := executor.NewEgressPolicy(c.Executor.Egress.Allow); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			add("executor.egress.allow", "%s", strings.TrimPrefix(line, "egress allow: "))
		}
	}
	for _, a := range c.Executor.Egress.Allow {
		if p, err := netip.ParsePrefix(a); err == nil && p.Bits() == 0 {
			add("executor.egress.allow", "%s allows every address, private ones included; use \"*\" for every public host", a)
		}
	}
	if c.Executor.Egress.Timeout < 0 || c.Executor.Egress.MaxResponse < 0 {
		add("executor.egress", "timeout and max_response must not be negative")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Executor.Connectors)) {
		k := c.Executor.Connectors[name]
		key := "executor.connectors." + name
		if !validConnectorName(name) {
			add(key, "connector name must be 1-64 letters, digits, '_' or '-'")
		}
		if (k.DSNFile == "") == (k.DSNEnv == "") {
			add(key+".dsn_file", "set exactly one of dsn_file and dsn_env")
		}
		if k.StatementTimeout < 0 {
			add(key+".statement_timeout", "must not be negative")
		}
		if k.MaxConns < 0 {
			add(key+".max_conns", "must not be negative")
		}
	}
	if d := c.Executor.DefaultConnector; d != "" {
		if _, ok := c.Executor.Connectors[d]; !ok {
			add("executor.default_connector", "no connector named %q", d)
		}
	}
	return ps
}

// hostOptions turns the config into executor.HostOptions, reading the
// connector DSNs from their files or environment variables.
func (c *Config) hostOptions() (executor.HostOptions, error) {
	o := executor.HostOptions{
		Egress: executor.EgressOptions{
			Allow:            c.Executor.Egress.Allow,
			Timeout:          c.Executor.Egress.Timeout,
			MaxResponseBytes: int64(c.Executor.Egress.MaxResponse),
		},
		DefaultConnector: c.Executor.DefaultConnector,
		Connectors:       map[string]executor.ConnectorOptions{},
	}
	for name, k := range c.Executor.Connectors {
		dsn, err := k.readDSN(name)
		if err != nil {
			return o, err
		}
		o.Connectors[name] = executor.ConnectorOptions{DSN: dsn, ReadOnly: k.ReadOnly,
			StatementTimeout: k.StatementTimeout, MaxConns: k.MaxConns}
	}
	return o, nil
}

// readDSN reads the connector's DSN from its file or environment variable
// (at start, and again on every reload: secrets_connectors.go).
func (k ConnectorConfig) readDSN(name string) (string, error) {
	if k.DSNFile != "" {
		b, err := os.ReadFile(k.DSNFile)
		if err != nil {
			return "", fmt.Errorf("executor.connectors.%s.dsn_file: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	dsn := os.Getenv(k.DSNEnv)
	if dsn == "" {
		return "", fmt.Errorf("executor.connectors.%s.dsn_env: environment variable %s is empty", name, k.DSNEnv)
	}
	return dsn, nil
}

// validateProjectPrefix checks http.project_prefix: "/" and one or more
// path segments, outside /api.
func (c *Config) validateProjectPrefix() []problem {
	p := c.HTTP.ProjectPrefix
	if p == "" || p[0] != '/' || p == "/" || strings.HasSuffix(p, "/") || strings.Contains(p, "//") ||
		strings.ContainsAny(p, ":*?#% ") || p == "/api" || strings.HasPrefix(p, "/api/") {
		return []problem{{"http.project_prefix", fmt.Sprintf("%q must be a path like /x (not / and not under /api)", p)}}
	}
	return nil
}

// validConnectorName: a connector name is a map key of the config and a
// segment of AVAP_EXECUTOR_CONNECTORS_<NAME>_<FIELD>, so no dots.
func validConnectorName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
