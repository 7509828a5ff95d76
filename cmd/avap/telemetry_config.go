package main

import (
	"net/url"
	"strings"
	"time"
)

// MetricsConfig configures the Prometheus metrics (telemetry.go).
type MetricsConfig struct {
	Enabled bool         `koanf:"enabled" help:"serve Prometheus metrics at /metrics and /api/v1/metrics on every role"`
	StatsD  StatsDConfig `koanf:"statsd"` // telemetry_statsd.go
}

// TracingConfig configures OpenTelemetry tracing (telemetry.go). The
// standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS,
// OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES...)
// apply too; set keys win.
type TracingConfig struct {
	Enabled     bool    `koanf:"enabled" help:"export spans over OTLP/HTTP; also on when OTEL_TRACES_EXPORTER=otlp"`
	Endpoint    string  `koanf:"endpoint" help:"OTLP/HTTP base URL (http://collector:4318); empty = OTEL_EXPORTER_OTLP_ENDPOINT or localhost:4318"`
	SampleRatio float64 `koanf:"sample_ratio" help:"fraction of new traces sampled (parent-based); -1 = OTEL_TRACES_SAMPLER or always"`
	ServiceName string  `koanf:"service_name" help:"service.name of the spans; empty = OTEL_SERVICE_NAME or avap"`
}

// SentryConfig configures error tracking (sentry.go).
type SentryConfig struct {
	DSN         Secret  `koanf:"dsn" help:"Sentry DSN; empty = off (secret: env, dsn_file or dsn_vault)"`
	DSNFile     string  `koanf:"dsn_file" help:"file holding sentry.dsn (e.g. a mounted Kubernetes Secret)"`
	Environment string  `koanf:"environment" help:"Sentry environment tag"`
	SampleRate  float64 `koanf:"sample_rate" help:"fraction of 5xx events sent (panics always)"`

	DSNVault string `koanf:"dsn_vault" help:"Vault KV v2 reference <path>#<key> of sentry.dsn"`
}

// LogFileConfig writes the log to a rotated file besides stderr.
type LogFileConfig struct {
	Path       string `koanf:"path" help:"log file; empty = stderr only"`
	MaxSizeMB  int    `koanf:"max_size_mb" help:"rotate when the file reaches this size"`
	MaxBackups int    `koanf:"max_backups" help:"rotated files kept; 0 = all (bounded by max_age_days)"`
	MaxAgeDays int    `koanf:"max_age_days" help:"days rotated files are kept; 0 = forever"`
	Compress   bool   `koanf:"compress" help:"gzip rotated files"`
}

func defaultTelemetryConfig(c *Config) {
	c.Metrics = MetricsConfig{Enabled: true, StatsD: StatsDConfig{Interval: 10 * time.Second, Tags: true}}
	c.Tracing = TracingConfig{SampleRatio: -1}
	c.Sentry = SentryConfig{SampleRate: 1}
	c.Log.File = LogFileConfig{MaxSizeMB: 100, MaxBackups: 10, MaxAgeDays: 28}
}

func (c *Config) validateTelemetry() []problem {
	ps := c.Metrics.StatsD.validate() // telemetry_statsd.go
	if r := c.Tracing.SampleRatio; r != -1 && (r < 0 || r > 1) {
		ps = append(ps, problem{"tracing.sample_ratio", "must be between 0 and 1, or -1"})
	}
	if e := c.Tracing.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps = append(ps, problem{"tracing.endpoint", "want an http(s) URL such as http://collector:4318"})
		}
	}
	if r := c.Sentry.SampleRate; r < 0 || r > 1 {
		ps = append(ps, problem{"sentry.sample_rate", "must be between 0 and 1"})
	}
	if c.Log.File.Path != "" && strings.TrimSpace(c.Log.File.Path) == "" {
		ps = append(ps, problem{"log.file.path", "must not be blank"})
	}
	if c.Log.File.MaxSizeMB <= 0 {
		ps = append(ps, problem{"log.file.max_size_mb", "must be positive"})
	}
	if c.Log.File.MaxBackups < 0 || c.Log.File.MaxAgeDays < 0 {
		ps = append(ps, problem{"log.file", "max_backups and max_age_days must not be negative"})
	}
	if t := c.Debug.AdminToken.Reveal(); t != "" && len(t) < 16 {
		ps = append(ps, problem{"debug.admin_token", "use at least 16 characters"})
	}
	return ps
}
