package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/avapmesh/avap/edge"
)

// Edge defences (issue 5): http.rate_limit, http.clients, http.validation,
// http.tls, http.api_keys, http.signing, http.cors, http.redact_fields.

// RateLimitConfig sets the edge's token buckets. Reloadable: SIGHUP applies
// new limits to every bucket on its next use (wire_protect.go).
type RateLimitConfig struct {
	RPS       float64  `koanf:"rps" help:"requests per second per client address; 0 = off"`
	Burst     int      `koanf:"burst" help:"burst per client address; 0 = ceil(rps)"`
	KeyRPS    float64  `koanf:"key_rps" help:"requests per second per API key (cluster-wide) unless the key sets its own; 0 = off"`
	KeyBurst  int      `koanf:"key_burst" help:"burst per API key; 0 = ceil(key_rps)"`
	Endpoints []string `koanf:"endpoints" help:"cluster-wide limits per route, PATH=RPS or PATH=RPS:BURST, e.g. /api/v1/execute=500:1000"`
}

// RateShareConfig configures how edges share rate-limit consumption over
// NATS (not reloadable: the reporting loop starts with the edge).
type RateShareConfig struct {
	Disabled bool          `koanf:"disabled" help:"keep rate-limit consumption local instead of sharing it with the other edges over NATS"`
	Interval time.Duration `koanf:"interval" help:"how often an edge reports its consumption to the others (bounds the cluster-wide overshoot)"`
}

// HTTPClientsConfig bounds what one client may hold.
type HTTPClientsConfig struct {
	TrustedProxies   []string `koanf:"trusted_proxies" help:"proxy addresses/CIDRs whose X-Forwarded-For is believed; empty = ignore the header"`
	MaxConnsPerIP    int      `koanf:"max_conns_per_ip" help:"concurrent connections per client address; 0 = no cap"`
	MaxInflightPerIP int      `koanf:"max_inflight_per_ip" help:"concurrent requests per client address (429 above); 0 = no cap"`
}

// HTTPValidationConfig bounds request contents.
type HTTPValidationConfig struct {
	MaxHeaderBytes ByteSize `koanf:"max_header_bytes" help:"request line plus headers (431 above)"`
	MaxScriptBytes ByteSize `koanf:"max_script_bytes" help:"script member of a request body (413 above)"`
	MaxJSONDepth   int      `koanf:"max_json_depth" help:"nesting of JSON request bodies (400 above)"`
	MaxQueryParams int      `koanf:"max_query_params" help:"query parameters per request (400 above)"`
	MaxParamBytes  ByteSize `koanf:"max_param_bytes" help:"one query parameter name or value (400 above)"`
}

// HTTPTLSConfig turns TLS on for the edge listener.
type HTTPTLSConfig struct {
	CertFile string        `koanf:"cert_file" help:"PEM certificate chain; with key_file serves HTTPS (and HSTS)"`
	KeyFile  string        `koanf:"key_file" help:"PEM private key of cert_file"`
	HSTS     time.Duration `koanf:"hsts_max_age" help:"Strict-Transport-Security max-age when TLS is on"`
}

// APIKeysConfig turns API keys on.
type APIKeysConfig struct {
	Enabled      bool          `koanf:"enabled" help:"require an API key (avap keys create) on /api/v1/execute*, /compile, /jobs, /projects, /dlq, /audit"`
	SyncInterval time.Duration `koanf:"sync_interval" help:"how often an edge copies the key store (PostgreSQL or <data_dir>/api_keys.json) into the NATS KV bucket"`
}

// SigningConfig configures signed requests.
type SigningConfig struct {
	Window time.Duration `koanf:"window" help:"accepted clock skew of X-Avap-Timestamp, either way; nonces are kept twice as long"`
	Routes []string      `koanf:"routes" help:"route paths that require a signature (exact, or a prefix ending in /)"`
}

// CORSConfig configures cross-origin requests.
type CORSConfig struct {
	Enabled          bool          `koanf:"enabled" help:"answer CORS preflights and add Access-Control-* headers"`
	AllowOrigins     []string      `koanf:"allow_origins" help:"allowed origins (exact), or *"`
	AllowMethods     []string      `koanf:"allow_methods" help:"allowed methods; empty = GET,POST,DELETE,OPTIONS"`
	AllowHeaders     []string      `koanf:"allow_headers" help:"allowed request headers; empty = the API's headers"`
	AllowCredentials bool          `koanf:"allow_credentials" help:"allow credentials (not with origin *)"`
	MaxAge           time.Duration `koanf:"max_age" help:"how long browsers cache a preflight"`
}

func defaultRateLimitConfig() RateLimitConfig {
	return RateLimitConfig{Endpoints: []string{}}
}

func defaultHTTPClientsConfig() HTTPClientsConfig {
	return HTTPClientsConfig{TrustedProxies: []string{}}
}

func defaultHTTPValidationConfig() HTTPValidationConfig {
	return HTTPValidationConfig{
		MaxHeaderBytes: edge.DefaultMaxHeaderBytes, MaxScriptBytes: edge.DefaultMaxScriptBytes,
		MaxJSONDepth: edge.DefaultMaxJSONDepth, MaxQueryParams: edge.DefaultMaxQueryParams, MaxParamBytes: edge.DefaultMaxParamBytes,
	}
}

func defaultProtectConfig(h *HTTPConfig) {
	h.RateLimit = defaultRateLimitConfig()
	h.RateShare = RateShareConfig{Interval: edge.DefaultShareInterval}
	h.Clients = defaultHTTPClientsConfig()
	h.Validation = defaultHTTPValidationConfig()
	h.TLS = HTTPTLSConfig{HSTS: edge.DefaultHSTSMaxAge}
	h.APIKeys = APIKeysConfig{SyncInterval: time.Second}
	h.Signing = SigningConfig{Window: edge.DefaultSigningWindow, Routes: []string{}}
	h.CORS = CORSConfig{AllowOrigins: []string{}, AllowMethods: []string{}, AllowHeaders: []string{}, MaxAge: edge.DefaultCORSMaxAge}
	h.RedactFields = []string{}
}

// parseEndpointLimit parses "PATH=RPS[:BURST]".
func parseEndpointLimit(s string) (string, edge.RateLimit, error) {
	path, spec, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || !strings.HasPrefix(path, "/") {
		return "", edge.RateLimit{}, fmt.Errorf("%q: want PATH=RPS or PATH=RPS:BURST", s)
	}
	rs, bs, hasBurst := strings.Cut(spec, ":")
	rps, err := strconv.ParseFloat(rs, 64)
	if err != nil || rps < 0 {
		return "", edge.RateLimit{}, fmt.Errorf("%q: rps must be a non-negative number", s)
	}
	var burst int
	if hasBurst {
		if burst, err = strconv.Atoi(bs); err != nil || burst < 0 {
			return "", edge.RateLimit{}, fmt.Errorf("%q: burst must be a non-negative integer", s)
		}
	}
	return path, edge.RateLimit{RPS: rps, Burst: burst}, nil
}

// rateLimits maps the config to edge options.
func (h *HTTPConfig) rateLimits() edge.RateLimitOptions {
	r := h.RateLimit
	o := edge.RateLimitOptions{
		PerIP:         edge.RateLimit{RPS: r.RPS, Burst: r.Burst},
		PerKey:        edge.RateLimit{RPS: r.KeyRPS, Burst: r.KeyBurst},
		NoShare:       h.RateShare.Disabled,
		ShareInterval: h.RateShare.Interval,
	}
	for _, e := range r.Endpoints {
		if p, l, err := parseEndpointLimit(e); err == nil {
			if o.Endpoints == nil {
				o.Endpoints = map[string]edge.RateLimit{}
			}
			o.Endpoints[p] = l
		}
	}
	return o
}

// protectOptions maps the config to edge.ProtectOptions.
func (h *HTTPConfig) protectOptions(node string) edge.ProtectOptions {
	return edge.ProtectOptions{
		TrustedProxies:   h.Clients.TrustedProxies,
		MaxConnsPerIP:    h.Clients.MaxConnsPerIP,
		MaxInflightPerIP: h.Clients.MaxInflightPerIP,
		MaxHeaderBytes:   int(h.Validation.MaxHeaderBytes),
		TLSCertFile:      h.TLS.CertFile,
		TLSKeyFile:       h.TLS.KeyFile,
		HSTSMaxAge:       h.TLS.HSTS,
		Validation: edge.ValidationOptions{
			MaxScriptBytes: int(h.Validation.MaxScriptBytes), MaxJSONDepth: h.Validation.MaxJSONDepth,
			MaxQueryParams: h.Validation.MaxQueryParams, MaxParamBytes: int(h.Validation.MaxParamBytes),
		},
		RateLimit: h.rateLimits(),
		Keys:      edge.KeyOptions{Enabled: h.APIKeys.Enabled},
		Signing:   edge.SigningOptions{Window: h.Signing.Window, Routes: h.Signing.Routes},
		CORS: edge.CORSOptions{
			Enabled: h.CORS.Enabled, AllowOrigins: h.CORS.AllowOrigins, AllowMethods: h.CORS.AllowMethods,
			AllowHeaders: h.CORS.AllowHeaders, AllowCredentials: h.CORS.AllowCredentials, MaxAge: h.CORS.MaxAge,
		},
		RedactFields: h.RedactFields,
		NodeID:       node,
	}
}

// validateProtect checks the http.* defence keys.
func (h *HTTPConfig) validateProtect() []problem {
	var ps []problem
	add := func(key, format string, args ...any) { ps = append(ps, problem{key, fmt.Sprintf(format, args...)}) }
	r := h.RateLimit
	if r.RPS < 0 {
		add("http.rate_limit.rps", "must not be negative")
	}
	if r.Burst < 0 {
		add("http.rate_limit.burst", "must not be negative")
	}
	if r.KeyRPS < 0 {
		add("http.rate_limit.key_rps", "must not be negative")
	}
	if r.KeyBurst < 0 {
		add("http.rate_limit.key_burst", "must not be negative")
	}
	for _, e := range r.Endpoints {
		if _, _, err := parseEndpointLimit(e); err != nil {
			add("http.rate_limit.endpoints", "%v", err)
		}
	}
	if iv := h.RateShare.Interval; iv < 5*time.Millisecond || iv > 10*time.Second {
		add("http.rate_share.interval", "must be between 5ms and 10s, got %s", iv)
	}
	c := h.Clients
	if c.MaxConnsPerIP < 0 {
		add("http.clients.max_conns_per_ip", "must not be negative")
	}
	if c.MaxInflightPerIP < 0 {
		add("http.clients.max_inflight_per_ip", "must not be negative")
	}
	v := h.Validation
	if v.MaxHeaderBytes < 1<<10 || v.MaxHeaderBytes > 1<<20 {
		add("http.validation.max_header_bytes", "must be between 1KiB and 1MiB")
	}
	if v.MaxScriptBytes < 1 || (h.BodyLimit > 0 && v.MaxScriptBytes > h.BodyLimit) {
		add("http.validation.max_script_bytes", "must be between 1 byte and http.body_limit")
	}
	if v.MaxJSONDepth < 2 || v.MaxJSONDepth > 512 {
		add("http.validation.max_json_depth", "must be between 2 and 512")
	}
	if v.MaxQueryParams < 1 {
		add("http.validation.max_query_params", "must be positive")
	}
	if v.MaxParamBytes < 1 || v.MaxParamBytes > v.MaxHeaderBytes {
		add("http.validation.max_param_bytes", "must be between 1 byte and max_header_bytes")
	}
	if h.APIKeys.SyncInterval < 100*time.Millisecond {
		add("http.api_keys.sync_interval", "must be at least 100ms")
	}
	if h.Signing.Window < time.Second || h.Signing.Window > time.Hour {
		add("http.signing.window", "must be between 1s and 1h")
	}
	if h.TLS.HSTS < 0 {
		add("http.tls.hsts_max_age", "must not be negative")
	}
	po := h.protectOptions("")
	po.RateLimit = edge.RateLimitOptions{} // reported above
	if err := po.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			add("http", "%s", line)
		}
	}
	return ps
}
