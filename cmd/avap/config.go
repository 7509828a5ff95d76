package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of one avap process. Field tags:
//
//	koanf:"name"   the key (YAML path element; env AVAP_ + upper-snake path)
//	reload:"true"  SIGHUP may change it (the whole subtree for a struct)
//	help:"..."     one line for the README config reference
//
// Only add reload:"true" once the new value is actually applied on reload
// (a reload hook, or a reader that calls current() per operation).
type Config struct {
	DataDir  string         `koanf:"data_dir" help:"directory for local state (JetStream store, caches)"`
	Node     NodeConfig     `koanf:"node"`
	HTTP     HTTPConfig     `koanf:"http"`
	Log      LogConfig      `koanf:"log"`
	NATS     NATSConfig     `koanf:"nats"`
	Postgres PostgresConfig `koanf:"postgres"`
	Executor ExecutorConfig `koanf:"executor"`
	Registry RegistryConfig `koanf:"registry"`
	Jobs     JobsConfig     `koanf:"jobs"`    // wire_jobs.go
	Audit    AuditConfig    `koanf:"audit"`   // wire_jobs.go
	Runtime  RuntimeConfig  `koanf:"runtime"` // runtime_tuning.go
	Debug    DebugConfig    `koanf:"debug"`
	Console  ConsoleConfig  `koanf:"console"` // wire_console.go
	Metrics  MetricsConfig  `koanf:"metrics"` // telemetry_config.go
	Tracing  TracingConfig  `koanf:"tracing"`
	Sentry   SentryConfig   `koanf:"sentry"`

	Vault VaultConfig `koanf:"vault"` // secrets_vault.go

	// AllowRoot: privilege.go.
	AllowRoot bool `koanf:"allow_root" help:"let a server role run as root (euid 0) with non-loopback listeners; default refuses (flag --allow-root)"`
}

// NodeConfig identifies this process in the mesh.
type NodeConfig struct {
	ID string `koanf:"id" help:"node id shown in /api/v1/info and NATS; empty = hostname plus random suffix"`
	// Zone and Heartbeat: mesh.go.
	Zone      string        `koanf:"zone" help:"zone of this node: executors also serve the zone's subjects, edges prefer them and fall back to any executor; empty = none"`
	Heartbeat time.Duration `koanf:"heartbeat" help:"interval of this node's mesh heartbeat (role, version, zone, load); silent for 3 intervals = gone"`
}

// HTTPConfig configures the edge HTTP server.
type HTTPConfig struct {
	Addr          string               `koanf:"addr" help:"edge listen address host:port"`
	ReadTimeout   time.Duration        `koanf:"read_timeout" help:"time to read a whole request"`
	WriteTimeout  time.Duration        `koanf:"write_timeout" help:"time to write a response"`
	IdleTimeout   time.Duration        `koanf:"idle_timeout" help:"keep-alive idle timeout"`
	BodyLimit     ByteSize             `koanf:"body_limit" help:"largest request body (413 above), e.g. 4MiB"`
	ShutdownDelay time.Duration        `koanf:"shutdown_delay" help:"on SIGTERM, report not ready this long before closing the listener"`
	Grace         time.Duration        `koanf:"grace" help:"on SIGTERM, time in-flight requests get to finish"`
	AccessLog     bool                 `koanf:"access_log" help:"log one line per request (5xx are always logged)"`
	MaxInFlight   int                  `koanf:"max_in_flight" help:"execution requests served at once (a quarter always; the rest only while the excess is younger than 20 ms, else 503 at once for 500 ms); 0 = 256 per CPU, -1 = no cap"`
	ProjectPrefix string               `koanf:"project_prefix" help:"deployed projects answer at <prefix>/<project>/<path>"`
	RateLimit     RateLimitConfig      `koanf:"rate_limit" reload:"true"`
	RateShare     RateShareConfig      `koanf:"rate_share"` // config_protect.go
	Clients       HTTPClientsConfig    `koanf:"clients"`    // config_protect.go
	Validation    HTTPValidationConfig `koanf:"validation"` // config_protect.go
	TLS           HTTPTLSConfig        `koanf:"tls"`        // config_protect.go
	APIKeys       APIKeysConfig        `koanf:"api_keys"`   // config_protect.go
	Signing       SigningConfig        `koanf:"signing"`    // config_protect.go
	CORS          CORSConfig           `koanf:"cors"`       // config_protect.go
	RedactFields  []string             `koanf:"redact_fields" help:"JSON member names whose values are redacted in edge log lines (API keys, signatures and Authorization always are)"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string        `koanf:"level" reload:"true" help:"debug, info, warn or error"`
	Format string        `koanf:"format" help:"text (colored on terminals, logfmt otherwise) or json"`
	File   LogFileConfig `koanf:"file"` // telemetry_config.go
}

// NATSConfig configures the embedded server (serve, nats) and the client
// connection (edge, executor, registry).
type NATSConfig struct {
	URL        string            `koanf:"url" help:"NATS server URL(s), comma-separated, for edge/executor/registry"`
	Listen     string            `koanf:"listen" help:"client listen address of the embedded server; empty = none (serve), 127.0.0.1:4222 (nats)"`
	InProcess  bool              `koanf:"in_process" help:"serve: connect components to the embedded server in-process"`
	MaxPayload ByteSize          `koanf:"max_payload" help:"largest NATS message of the embedded server"`
	LameDuck   time.Duration     `koanf:"lame_duck" help:"embedded server lame-duck period at shutdown when it listens; 0 = off"`
	Cluster    NATSClusterConfig `koanf:"cluster"`
	JetStream  JetStreamConfig   `koanf:"jetstream"`
}

// NATSClusterConfig joins the embedded server to a cluster.
type NATSClusterConfig struct {
	Name   string   `koanf:"name" help:"cluster name; required with a cluster listen address"`
	Listen string   `koanf:"listen" help:"route listen address host:port; empty = not clustered"`
	Routes []string `koanf:"routes" help:"route URLs of the other nodes (nats-route://host:port)"`
}

// JetStreamConfig configures JetStream on the embedded server.
type JetStreamConfig struct {
	Enabled   bool     `koanf:"enabled" help:"enable JetStream on the embedded server"`
	StoreDir  string   `koanf:"store_dir" help:"JetStream store; empty = <data_dir>/jetstream"`
	MaxMemory ByteSize `koanf:"max_memory" help:"JetStream memory limit; 0 = server default"`
	MaxStore  ByteSize `koanf:"max_store" help:"JetStream disk limit; 0 = server default"`
}

// PostgresConfig holds the database connection. The DSN is a secret: it
// comes from AVAP_POSTGRES_DSN or dsn_file, never from the config file.
type PostgresConfig struct {
	DSN     Secret `koanf:"dsn" reload:"password" help:"connection string (secret: env only)"`
	DSNFile string `koanf:"dsn_file" help:"file holding the connection string"`

	DSNVault string `koanf:"dsn_vault" help:"Vault KV v2 reference <path>#<key> of the connection string (secrets_vault.go)"`
}

// ExecutorConfig configures the executor role.
type ExecutorConfig struct {
	Workers   int           `koanf:"workers" help:"concurrent runs; 0 = GOMAXPROCS"`
	QueueSize int           `koanf:"queue_size" help:"admission queue; 0 = 256 per worker"`
	Grace     time.Duration `koanf:"grace" help:"on SIGTERM, time in-flight runs get to finish"`
	Limits    LimitsConfig  `koanf:"limits" reload:"true"`
	MaxLimits LimitsConfig  `koanf:"max_limits"`

	// Outside commands (config_host.go).
	Egress           EgressConfig               `koanf:"egress"`
	Connectors       map[string]ConnectorConfig `koanf:"connectors" help:"SQL connectors (PostgreSQL) by name: <name>: {dsn_file or dsn_env, read_only, statement_timeout, max_conns}; env AVAP_EXECUTOR_CONNECTORS_<NAME>_<FIELD>; the DSN never sits in this file"`
	DefaultConnector string                     `koanf:"default_connector" help:"connector of ormDirect, ormCheckTable and ormAccess*; empty = the only connector"`
}

// LimitsConfig bounds one script run (vm.Limits).
type LimitsConfig struct {
	Steps   int64         `koanf:"steps" help:"instructions"`
	Timeout time.Duration `koanf:"timeout" help:"wall clock"`
	Memory  ByteSize      `koanf:"memory" help:"bytes of values a script allocates"`
	Depth   int           `koanf:"depth" help:"call depth"`
	Output  ByteSize      `koanf:"output" help:"size of result+variables+logs JSON"`
}

// DebugConfig holds diagnostics that are off in production.
type DebugConfig struct {
	Pprof      bool   `koanf:"pprof" help:"serve net/http/pprof on the HTTP address under /debug/pprof (admin networks only)"`
	AdminToken Secret `koanf:"admin_token" reload:"true" help:"bearer token of /debug/* (pprof, /debug/vars); empty = loopback clients only (secret: env, admin_token_file or admin_token_vault)"`

	AdminTokenFile  string `koanf:"admin_token_file" reload:"true" help:"file holding debug.admin_token (e.g. a mounted Kubernetes Secret); re-read on every load (secrets_file.go)"`
	AdminTokenVault string `koanf:"admin_token_vault" reload:"true" help:"Vault KV v2 reference <path>#<key> of debug.admin_token"`
}

// RegistryConfig configures the command registry.
type RegistryConfig struct {
	CacheTTL    time.Duration `koanf:"cache_ttl" reload:"true" help:"how long cached commands stay fresh (registry issue)"`
	TrustedKeys []string      `koanf:"trusted_keys" help:"public keys (name+hash+key) whose signed packages run; several for rotation; serve adds its own"`
	KeyFile     string        `koanf:"key_file" help:"registry signing key (PRIVATE+KEY+...) for /api/v1/compile; serve: generated under data_dir when empty"`
	CacheSize   int           `koanf:"cache_size" help:"executor L1 cache entries (signed packages); 0 = 1024"`
	Precache    int           `koanf:"precache" help:"most used packages loaded at executor start; 0 = 32, -1 = none"`
}

// defaultConfig returns the built-in defaults, the lowest layer.
func defaultConfig() *Config {
	c := &Config{
		DataDir: "data",
		Node:    NodeConfig{Heartbeat: 2 * time.Second},
		HTTP: HTTPConfig{
			Addr:          "127.0.0.1:8080",
			ReadTimeout:   10 * time.Second,
			WriteTimeout:  30 * time.Second,
			IdleTimeout:   60 * time.Second,
			BodyLimit:     4 << 20,
			ShutdownDelay: 0,
			Grace:         15 * time.Second,
			AccessLog:     true,
			ProjectPrefix: "/x",
		},
		Log: LogConfig{Level: "info", Format: "text"},
		NATS: NATSConfig{
			URL:        "nats://127.0.0.1:4222",
			InProcess:  true,
			MaxPayload: 8 << 20,
			LameDuck:   0,
			Cluster:    NATSClusterConfig{Routes: []string{}},
			JetStream:  JetStreamConfig{Enabled: true},
		},
		Executor: ExecutorConfig{
			Grace:      10 * time.Second,
			Egress:     defaultEgressConfig(),
			Connectors: map[string]ConnectorConfig{},
			Limits: LimitsConfig{
				Steps: 10_000_000, Timeout: 5 * time.Second, Memory: 64 << 20, Depth: 200, Output: 4 << 20,
			},
			MaxLimits: LimitsConfig{
				Steps: 1_000_000_000, Timeout: 60 * time.Second, Memory: 512 << 20, Depth: 1000, Output: 32 << 20,
			},
		},
		Jobs:     defaultJobsConfig(),
		Audit:    defaultAuditConfig(),
		Runtime:  RuntimeConfig{GCPercent: DefaultGCPercent}, // runtime_tuning.go
		Registry: RegistryConfig{CacheTTL: 5 * time.Minute, TrustedKeys: []string{}},
		Console:  defaultConsoleConfig(), // wire_console.go
	}
	defaultTelemetryConfig(c)      // telemetry_config.go
	defaultProtectConfig(&c.HTTP)  // config_protect.go
	c.Vault = defaultVaultConfig() // secrets_vault.go
	return c
}

// ByteSize is a size in bytes. In config it is an integer or a string with
// a unit: 512, "64KiB", "4MiB", "1GiB", "10MB".
type ByteSize int64

// UnmarshalText parses a size with an optional unit.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	mult := map[string]int64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9,
		"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
	}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n < 0 {
		return fmt.Errorf("invalid size %q (want e.g. 1048576, 512KiB, 4MiB)", s)
	}
	if n > (1<<62)/mult {
		return fmt.Errorf("size %q too large", s)
	}
	*b = ByteSize(n * mult)
	return nil
}

// String formats the size with the largest exact binary unit.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return strconv.FormatInt(int64(b), 10)
}

// Secret is a string that never prints: fmt, slog and JSON show
// "[redacted]" (or "" when empty). Use Reveal to read it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
