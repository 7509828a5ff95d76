package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/avapmesh/avap/registry"
)

// problem is one invalid value, named by its key.
type problem struct{ key, msg string }

// validate checks every value and returns all problems.
func (c *Config) validate() []problem {
	var ps []problem
	add := func(key, format string, args ...any) {
		ps = append(ps, problem{key, fmt.Sprintf(format, args...)})
	}
	addr := func(key, v string, optional bool) {
		if v == "" && optional {
			return
		}
		if err := checkHostPort(v); err != nil {
			add(key, "%v", err)
		}
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			add(key, "must be positive, got %s", d)
		}
	}
	nonNegative := func(key string, d time.Duration) {
		if d < 0 {
			add(key, "must not be negative, got %s", d)
		}
	}

	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	}
	if id := c.Node.ID; id != "" && !validNodeID(id) {
		add("node.id", "%q: use 1-64 characters of A-Z a-z 0-9 - _", id)
	}
	if z := c.Node.Zone; z != "" && !validNodeID(z) {
		add("node.zone", "%q: use 1-64 characters of A-Z a-z 0-9 - _", z)
	}
	positive("node.heartbeat", c.Node.Heartbeat)

	addr("http.addr", c.HTTP.Addr, false)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	nonNegative("http.shutdown_delay", c.HTTP.ShutdownDelay)
	positive("http.grace", c.HTTP.Grace)
	if c.HTTP.BodyLimit <= 0 || c.HTTP.BodyLimit > 1<<30 {
		add("http.body_limit", "must be between 1 byte and 1GiB, got %d", int64(c.HTTP.BodyLimit))
	}
	if c.HTTP.MaxInFlight < -1 {
		add("http.max_in_flight", "must be -1 (no cap), 0 (default) or positive, got %d", c.HTTP.MaxInFlight)
	}
	ps = append(ps, c.HTTP.validateProtect()...) // http.rate_limit, clients, validation, tls, api_keys, signing, cors (config_protect.go)

	if _, err := parseLevel(c.Log.Level); err != nil {
		add("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format", "%q: want text or json", c.Log.Format)
	}

	for _, u := range strings.Split(c.NATS.URL, ",") {
		if err := checkURL(strings.TrimSpace(u), "nats", "tls", "ws", "wss"); err != nil {
			add("nats.url", "%v", err)
		}
	}
	addr("nats.listen", c.NATS.Listen, true)
	if !c.NATS.InProcess && c.NATS.Listen == "" {
		add("nats.in_process", "false needs nats.listen: serve then connects over TCP")
	}
	if c.NATS.MaxPayload <= 0 || c.NATS.MaxPayload > 64<<20 {
		add("nats.max_payload", "must be between 1 byte and 64MiB, got %d", int64(c.NATS.MaxPayload))
	}
	nonNegative("nats.lame_duck", c.NATS.LameDuck)
	addr("nats.cluster.listen", c.NATS.Cluster.Listen, true)
	if c.NATS.Cluster.Listen != "" && c.NATS.Cluster.Name == "" {
		add("nats.cluster.name", "required when nats.cluster.listen is set")
	}
	if len(c.NATS.Cluster.Routes) > 0 && c.NATS.Cluster.Listen == "" {
		add("nats.cluster.routes", "need nats.cluster.listen")
	}
	for _, r := range c.NATS.Cluster.Routes {
		if err := checkURL(r, "nats-route", "nats", "tls"); err != nil {
			add("nats.cluster.routes", "%v", err)
		}
	}
	if c.NATS.JetStream.MaxMemory < 0 {
		add("nats.jetstream.max_memory", "must not be negative")
	}
	if c.NATS.JetStream.MaxStore < 0 {
		add("nats.jetstream.max_store", "must not be negative")
	}

	if d := c.Postgres.DSN.Reveal(); d != "" && strings.Contains(d, "://") {
		if u, err := url.Parse(d); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// Never echo the DSN: it may hold a password.
			add("postgres.dsn", "not a postgres:// URL")
		}
	}

	if c.Executor.Workers < 0 {
		add("executor.workers", "must not be negative")
	}
	if c.Executor.QueueSize < 0 {
		add("executor.queue_size", "must not be negative")
	}
	nonNegative("executor.grace", c.Executor.Grace)
	ps = append(ps, c.validateHost()...)
	ps = append(ps, c.validateProjectPrefix()...)
	ps = append(ps, c.Executor.Limits.validate("executor.limits")...)
	ps = append(ps, c.Executor.MaxLimits.validate("executor.max_limits")...)
	l, m := c.Executor.Limits, c.Executor.MaxLimits
	for _, x := range []struct {
		name     string
		def, max int64
	}{
		{"steps", l.Steps, m.Steps}, {"timeout", int64(l.Timeout), int64(m.Timeout)},
		{"memory", int64(l.Memory), int64(m.Memory)}, {"depth", int64(l.Depth), int64(m.Depth)},
		{"output", int64(l.Output), int64(m.Output)},
	} {
		if x.def > x.max && x.max > 0 {
			add("executor.limits."+x.name, "exceeds executor.max_limits.%s", x.name)
		}
	}
	nonNegative("registry.cache_ttl", c.Registry.CacheTTL)
	ps = append(ps, c.validateDurable()...)   // jobs.*, audit.* (wire_jobs.go)
	ps = append(ps, c.validateTelemetry()...) // metrics, tracing, sentry, log.file (telemetry_config.go)
	ps = append(ps, c.Runtime.validate()...)  // runtime.* (runtime_tuning.go)
	ps = append(ps, c.validateConsole()...)   // console.* (wire_console.go)
	for i, k := range c.Registry.TrustedKeys {
		if _, err := registry.NewVerifier(k); err != nil {
			add("registry.trusted_keys", "key %d: %v", i, err)
		}
	}
	if c.Registry.CacheSize < 0 {
		add("registry.cache_size", "must not be negative")
	}
	return ps
}

func (l LimitsConfig) validate(prefix string) []problem {
	var ps []problem
	if l.Steps <= 0 {
		ps = append(ps, problem{prefix + ".steps", "must be positive"})
	}
	if l.Timeout <= 0 {
		ps = append(ps, problem{prefix + ".timeout", "must be positive"})
	}
	if l.Memory <= 0 {
		ps = append(ps, problem{prefix + ".memory", "must be positive"})
	}
	if l.Depth <= 0 {
		ps = append(ps, problem{prefix + ".depth", "must be positive"})
	}
	if l.Output <= 0 {
		ps = append(ps, problem{prefix + ".output", "must be positive"})
	}
	return ps
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: invalid port %q", v, port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q: invalid host %q", v, host)
	}
	return nil
}

func checkURL(v string, schemes ...string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL like %s://host:port", v, schemes[0])
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("%q: scheme %q, want one of %s", v, u.Scheme, strings.Join(schemes, ", "))
}

func validNodeID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
