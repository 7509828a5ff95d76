package edge

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Defaults of ProtectOptions.
const (
	DefaultMaxScriptBytes  = 1 << 20 // vm.CompileOptions default
	DefaultMaxJSONDepth    = 64
	DefaultMaxQueryParams  = 128
	DefaultMaxParamBytes   = 8 << 10
	DefaultMaxHeaderBytes  = 16 << 10
	DefaultSigningWindow   = 5 * time.Minute
	DefaultHSTSMaxAge      = 365 * 24 * time.Hour
	DefaultCORSMaxAge      = 10 * time.Minute
	maxNonceCacheEntries   = 1 << 16
	minNonceLen, maxNonceL = 16, 64
)

// ProtectOptions configure the edge's defences (validation, rate limits,
// API keys, request signing, CORS, TLS, per-client caps). The zero value
// keeps API keys, signing, CORS and rate limits off and applies the
// default validation limits.
type ProtectOptions struct {
	// TrustedProxies are addresses or CIDR prefixes whose X-Forwarded-For
	// is believed; the client is the right-most address not in the list.
	// Empty = X-Forwarded-For is ignored.
	TrustedProxies []string
	// MaxConnsPerIP caps concurrent connections from one peer address (more
	// are answered 429 and closed; ratelimit_conn.go); 0 = no cap.
	MaxConnsPerIP int
	// MaxInflightPerIP caps concurrent requests from one client address
	// (429 above it); 0 = no cap.
	MaxInflightPerIP int
	// MaxHeaderBytes bounds the request line plus headers (431 above);
	// 0 = DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	TLSCertFile string        // PEM certificate chain; with TLSKeyFile turns TLS on
	TLSKeyFile  string        // PEM private key
	HSTSMaxAge  time.Duration // Strict-Transport-Security max-age when TLS is on; 0 = one year

	Validation ValidationOptions
	RateLimit  RateLimitOptions
	Keys       KeyOptions
	Signing    SigningOptions
	CORS       CORSOptions

	// RedactFields are JSON member names (e.g. "password") whose values are
	// replaced in every log line of the edge, besides the built-in
	// secrets (API keys, signatures, Authorization).
	RedactFields []string
	// NodeID names this edge in rate-limit reports; "" = random.
	NodeID string
}

// ValidationOptions bound what a request may contain. Zero fields take the
// defaults.
type ValidationOptions struct {
	MaxScriptBytes int // script member of execute/compile bodies (413 above)
	MaxJSONDepth   int // nesting of any JSON body (400 above)
	MaxQueryParams int // query parameters (400 above)
	MaxParamBytes  int // one query parameter name or value (400 above)
}

// KeyOptions configure API keys (bus.APIKey records in bus.KeysBucket).
type KeyOptions struct {
	// Enabled requires a key on /api/v1/execute*, /compile, /jobs,
	// /projects, /dlq and /audit. Off by default.
	Enabled bool
}

// SigningOptions configure signed requests (signing.go).
type SigningOptions struct {
	Window time.Duration // accepted clock skew either way; 0 = DefaultSigningWindow
	Routes []string      // route paths (exact, or prefix ending in "/") that require a signature
}

// CORSOptions configure cross-origin requests; off unless Enabled.
type CORSOptions struct {
	Enabled          bool
	AllowOrigins     []string // exact origins, or "*"
	AllowMethods     []string // default GET, POST, DELETE, OPTIONS
	AllowHeaders     []string // default Content-Type, Authorization, X-API-Key, X-Request-ID, Idempotency-Key and the signing headers
	ExposeHeaders    []string // default X-Request-ID, Retry-After and the RateLimit-* headers
	AllowCredentials bool
	MaxAge           time.Duration // preflight cache; 0 = DefaultCORSMaxAge
}

func (o ProtectOptions) withDefaults() ProtectOptions {
	v := &o.Validation
	if v.MaxScriptBytes <= 0 {
		v.MaxScriptBytes = DefaultMaxScriptBytes
	}
	if v.MaxJSONDepth <= 0 {
		v.MaxJSONDepth = DefaultMaxJSONDepth
	}
	if v.MaxQueryParams <= 0 {
		v.MaxQueryParams = DefaultMaxQueryParams
	}
	if v.MaxParamBytes <= 0 {
		v.MaxParamBytes = DefaultMaxParamBytes
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.HSTSMaxAge <= 0 {
		o.HSTSMaxAge = DefaultHSTSMaxAge
	}
	if o.Signing.Window <= 0 {
		o.Signing.Window = DefaultSigningWindow
	}
	if o.CORS.MaxAge <= 0 {
		o.CORS.MaxAge = DefaultCORSMaxAge
	}
	return o
}

// Validate reports every problem of o at once.
func (o ProtectOptions) Validate() error {
	var errs []error
	if _, err := parsePrefixes(o.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls: cert file and key file go together"))
	}
	if o.MaxConnsPerIP < 0 || o.MaxInflightPerIP < 0 || o.MaxHeaderBytes < 0 {
		errs = append(errs, errors.New("per-IP caps and header size must not be negative"))
	}
	rl := o.RateLimit
	for name, l := range map[string]RateLimit{"per ip": rl.PerIP, "per key": rl.PerKey} {
		if l.RPS < 0 || l.Burst < 0 {
			errs = append(errs, fmt.Errorf("rate limit %s: must not be negative", name))
		}
	}
	for p, l := range rl.Endpoints {
		if !strings.HasPrefix(p, "/") || l.RPS < 0 || l.Burst < 0 {
			errs = append(errs, fmt.Errorf("rate limit endpoint %q: want an absolute path and non-negative limits", p))
		}
	}
	if len(o.Signing.Routes) > 0 && !o.Keys.Enabled {
		errs = append(errs, errors.New("signing routes need API keys enabled (signatures use the key's secret)"))
	}
	for _, r := range o.Signing.Routes {
		if !strings.HasPrefix(r, "/") {
			errs = append(errs, fmt.Errorf("signing route %q: want an absolute path", r))
		}
	}
	if o.CORS.Enabled && len(o.CORS.AllowOrigins) == 0 {
		errs = append(errs, errors.New("cors: enabled needs allow origins"))
	}
	if o.CORS.AllowCredentials && containsString(o.CORS.AllowOrigins, "*") {
		errs = append(errs, errors.New("cors: credentials cannot be allowed for origin *"))
	}
	return errors.Join(errs...)
}

// parsePrefixes parses addresses and CIDR prefixes.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted proxy %q: want an IP address or CIDR prefix", s))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
