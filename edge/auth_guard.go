package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// guard is the one security middleware after frontMiddleware. Per
// request, in this order:
//
//  1. Strict-Transport-Security when TLS is on;
//  2. query string bounds (400);
//  3. client address (X-Forwarded-For only from trusted proxies) and the
//     per-address in-flight cap (429);
//  4. per-address rate limit (429);
//  5. on protected routes with API keys on: the key (401 missing/invalid/
//     revoked), the route capability (403), the signature when the route
//     or the key requires one (401 with a reason), the key's rate limit;
//  6. the endpoint's rate limit (429);
//  7. JSON structure of execute/batch/compile/jobs bodies (400/413/415).
//
// Every refusal is the JSON error envelope, with a "reason" for 401s.
// Allowed requests carry the RateLimit-* headers of the tightest limit
// that applied.
type guard struct {
	s             *Server
	opts          ProtectOptions
	log           logger
	proxies       []netip.Prefix
	lim           *limiter
	share         *rateShare
	keys          *keyRing
	nonces        *nonceStore
	inflight      *inflight
	hsts          []byte
	maxBatchItems int
	signRoutes    []string
	stats         guardStats
}

type logger interface {
	Warn(msg string, args ...any)
}

// guardStats counts the guard's decisions (see Server.ProtectStats).
type guardStats struct {
	rejectedValidation atomic.Uint64
	rejectedRateIP     atomic.Uint64
	rejectedRateKey    atomic.Uint64
	rejectedRateRoute  atomic.Uint64
	rejectedInflight   atomic.Uint64
	rejectedAuth       atomic.Uint64
	rejectedForbidden  atomic.Uint64
	rejectedSignature  atomic.Uint64
	authenticated      atomic.Uint64
	signed             atomic.Uint64
}

// ProtectStats are the guard's counters since start, for metrics.
type ProtectStats struct {
	RejectedValidation uint64 // 400/413/415 from request validation
	RejectedRateIP     uint64 // 429 per client address
	RejectedRateKey    uint64 // 429 per API key
	RejectedRateRoute  uint64 // 429 per endpoint
	RejectedInflight   uint64 // 429 per-address in-flight cap
	RejectedAuth       uint64 // 401 key missing/invalid/revoked
	RejectedForbidden  uint64 // 403 missing capability
	RejectedSignature  uint64 // 401 signature problems
	Authenticated      uint64 // requests admitted with a valid key
	Signed             uint64 // requests admitted with a valid signature
	Buckets            int    // rate-limit buckets held
}

// ProtectStats returns the guard's counters.
func (s *Server) ProtectStats() ProtectStats {
	g := s.guard
	if g == nil {
		return ProtectStats{}
	}
	st := &g.stats
	n := 0
	for i := range g.lim.shards {
		sh := &g.lim.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return ProtectStats{
		RejectedValidation: st.rejectedValidation.Load(), RejectedRateIP: st.rejectedRateIP.Load(),
		RejectedRateKey: st.rejectedRateKey.Load(), RejectedRateRoute: st.rejectedRateRoute.Load(),
		RejectedInflight: st.rejectedInflight.Load(), RejectedAuth: st.rejectedAuth.Load(),
		RejectedForbidden: st.rejectedForbidden.Load(), RejectedSignature: st.rejectedSignature.Load(),
		Authenticated: st.authenticated.Load(), Signed: st.signed.Load(), Buckets: n,
	}
}

// SetRateLimits replaces the rate limits (config reload). Existing buckets
// take the new limits on their next use.
func (s *Server) SetRateLimits(o RateLimitOptions) {
	if s.guard != nil {
		s.guard.lim.set(o)
	}
}

// route describes what the guard does for one path.
type route struct {
	capability string   // API-key capability; "" = public
	body       bodyKind // JSON body kind when json
	json       bool
}

// classify maps a request to its route class.
func classify(method, path string) route {
	const p = "/api/v1/"
	if !strings.HasPrefix(path, p) {
		return route{}
	}
	rest := path[len(p):]
	post := method == fiber.MethodPost
	switch {
	case rest == "execute":
		return route{capability: bus.KeyCapExecute, json: post, body: bodyExecute}
	case rest == "execute/batch":
		return route{capability: bus.KeyCapExecute, json: post, body: bodyBatch}
	case rest == "execute/file":
		return route{capability: bus.KeyCapExecute}
	case rest == "compile":
		return route{capability: bus.KeyCapCompile, json: post, body: bodyCompile}
	case rest == "check":
		return route{capability: bus.KeyCapCompile, json: post, body: bodyCompile}
	case rest == "registry/packages":
		return route{capability: bus.KeyCapCompile}
	case rest == "jobs":
		return route{capability: bus.KeyCapJobs, json: post, body: bodyExecute}
	case strings.HasPrefix(rest, "jobs/"):
		return route{capability: bus.KeyCapJobs}
	case rest == "projects" || strings.HasPrefix(rest, "projects/"):
		return route{capability: bus.KeyCapProjects}
	case rest == "dlq" || strings.HasPrefix(rest, "dlq/") || rest == "audit":
		return route{capability: bus.KeyCapAdmin}
	}
	return route{}
}

// mountGuard installs CORS (when on) and the guard after frontMiddleware.
func (s *Server) mountGuard(app *fiber.App) {
	if h := corsMiddleware(s.opts.Protect.CORS); h != nil {
		app.Use(h)
	}
	app.Use(s.guard.handle)
}

func newGuard(s *Server) *guard {
	o := s.opts.Protect
	proxies, _ := parsePrefixes(o.TrustedProxies) // validated
	g := &guard{
		s: s, opts: o, log: s.log, proxies: proxies,
		lim:           newLimiter(o.RateLimit),
		maxBatchItems: s.opts.Execute.MaxBatchItems,
		signRoutes:    o.Signing.Routes,
	}
	if g.maxBatchItems <= 0 {
		g.maxBatchItems = DefaultMaxBatchItems
	}
	if o.MaxInflightPerIP > 0 {
		g.inflight = newInflight(o.MaxInflightPerIP)
	}
	if o.TLSCertFile != "" {
		g.hsts = hstsValue(o)
	}
	if o.Keys.Enabled {
		g.keys = newKeyRing(s.opts.Conn, s.log)
		g.nonces = newNonceStore(s.opts.Conn, o.Signing.Window)
		s.onShutdown(g.keys.shutdown)
	}
	g.lim.resolve = g.resolveLimit
	return g
}

// start begins sharing rate-limit consumption (Server.Start).
func (g *guard) start() error {
	ro := g.lim.opts.Load()
	nc := g.s.opts.Conn
	if ro.NoShare {
		nc = nil
	}
	node := g.opts.NodeID
	if node == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		node = hex.EncodeToString(b[:])
	}
	r, err := startRateShare(g.lim, nc, node, ro.ShareInterval, func(err error) {
		g.log.Warn("rate usage not shared", "err", err)
	})
	if err != nil {
		return err
	}
	g.share = r
	g.s.onShutdown(r.close)
	return nil
}

// resolveLimit is the limit of a key first seen in another edge's report.
func (g *guard) resolveLimit(key string) (RateLimit, bool) {
	o := g.lim.opts.Load()
	switch key[0] {
	case kindKey:
		if g.keys == nil {
			return RateLimit{}, false
		}
		if e := g.keys.byLimitKey(key); e != nil {
			return e.limit(o.PerKey), true
		}
		return o.PerKey, o.PerKey.on()
	case kindEndpoint:
		l, ok := o.Endpoints[key[1:]]
		return l, ok
	}
	return RateLimit{}, false
}

func (g *guard) handle(c *fiber.Ctx) error {
	if g.hsts != nil {
		c.Response().Header.SetBytesV(fiber.HeaderStrictTransportSecurity, g.hsts)
	}
	if fe := g.checkQuery(c); fe != nil {
		g.stats.rejectedValidation.Add(1)
		return g.deny(c, fe.status, fe.code(), "", fe.Error())
	}
	ip := g.clientAddr(c)
	if g.inflight != nil {
		if !g.inflight.acquire(ip) {
			g.stats.rejectedInflight.Add(1)
			c.Set(fiber.HeaderRetryAfter, "1")
			return g.deny(c, fiber.StatusTooManyRequests, bus.CodeRateLimited, "", "too many concurrent requests from this client")
		}
		defer g.inflight.release(ip)
	}
	now := time.Now()
	ro := g.lim.opts.Load()
	var best decision
	have := false
	note := func(d decision) {
		if !have || d.remaining < best.remaining {
			best, have = d, true
		}
	}
	if ro.PerIP.on() {
		var buf [1 + 16]byte
		buf[0] = kindIP
		a := ip.As16()
		copy(buf[1:], a[:])
		d := g.lim.allow(string(buf[:]), ro.PerIP, now)
		if !d.ok {
			g.stats.rejectedRateIP.Add(1)
			return g.limited(c, d, "rate limit exceeded for this client")
		}
		note(d)
	}
	path := c.Path()
	rt := classify(c.Method(), path)
	if g.keys != nil && rt.capability != "" {
		e, status, reason := g.authenticate(c, rt, path, now)
		if status != 0 {
			return g.denyAuth(c, status, reason)
		}
		c.SetUserContext(context.WithValue(c.UserContext(), keyCtx{}, e))
		if lim := e.limit(ro.PerKey); lim.on() {
			d := g.lim.allow(e.limitKey, lim, now)
			if !d.ok {
				g.stats.rejectedRateKey.Add(1)
				return g.limited(c, d, "rate limit exceeded for this API key")
			}
			note(d)
		}
	}
	if len(ro.Endpoints) > 0 {
		if lim, ok := ro.Endpoints[path]; ok && lim.on() {
			d := g.lim.allow(string(rune(kindEndpoint))+path, lim, now)
			if !d.ok {
				g.stats.rejectedRateRoute.Add(1)
				return g.limited(c, d, "rate limit exceeded for this endpoint")
			}
			note(d)
		}
	}
	if have {
		setRateHeaders(c, best)
	}
	if rt.json {
		if !acceptsJSON(c.Request().Header.ContentType(), c.Body()) {
			g.stats.rejectedValidation.Add(1)
			return g.deny(c, fiber.StatusUnsupportedMediaType, bus.CodeUnsupportedMedia, "", "content type must be application/json")
		}
		if fe := g.validateJSON(c.Body(), rt.body); fe != nil {
			g.stats.rejectedValidation.Add(1)
			return g.deny(c, fe.status, fe.code(), "", fe.Error())
		}
	}
	return c.Next()
}

// authenticate checks key, capability and signature; status 0 = pass.
func (g *guard) authenticate(c *fiber.Ctx, rt route, path string, now time.Time) (*keyEntry, int, string) {
	key := requestKey(c)
	if key == "" {
		g.stats.rejectedAuth.Add(1)
		return nil, fiber.StatusUnauthorized, ReasonKeyMissing
	}
	if err := g.keys.ensure(c.UserContext()); err != nil {
		g.log.Warn("API keys unavailable", "err", err)
		return nil, fiber.StatusServiceUnavailable, "key_store_unavailable"
	}
	e, reason := g.keys.lookup(key)
	if e == nil {
		g.stats.rejectedAuth.Add(1)
		return nil, fiber.StatusUnauthorized, reason
	}
	if !e.rec.Has(rt.capability) {
		g.stats.rejectedForbidden.Add(1)
		return nil, fiber.StatusForbidden, "capability_" + rt.capability
	}
	if e.rec.RequireSignature || g.routeNeedsSignature(path) {
		if r := g.verifySignature(c, e, now); r != "" {
			if r == reasonNonceStoreDown {
				return nil, fiber.StatusServiceUnavailable, r
			}
			g.stats.rejectedSignature.Add(1)
			return nil, fiber.StatusUnauthorized, r
		}
		g.stats.signed.Add(1)
	}
	g.stats.authenticated.Add(1)
	return e, 0, ""
}

func (g *guard) routeNeedsSignature(path string) bool {
	for _, r := range g.signRoutes {
		if path == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(path, r)) {
			return true
		}
	}
	return false
}

// requestKey returns the API key of c: X-API-Key, or Authorization: Bearer.
func requestKey(c *fiber.Ctx) string {
	h := &c.Request().Header
	if k := h.Peek(HeaderAPIKey); len(k) > 0 {
		return b2s(k)
	}
	a := h.Peek(fiber.HeaderAuthorization)
	if len(a) > 7 && strings.EqualFold(b2s(a[:7]), "bearer ") {
		return strings.TrimSpace(b2s(a[7:]))
	}
	return ""
}

func (g *guard) limited(c *fiber.Ctx, d decision, msg string) error {
	setRateHeaders(c, d)
	return g.deny(c, fiber.StatusTooManyRequests, bus.CodeRateLimited, "", msg)
}

func (g *guard) denyAuth(c *fiber.Ctx, status int, reason string) error {
	var msg string
	code := bus.CodeUnauthorized
	switch {
	case status == fiber.StatusForbidden:
		code = bus.CodeForbidden
		msg = "the API key lacks the " + strings.TrimPrefix(reason, "capability_") + " capability"
		reason = "capability_missing"
	case status == fiber.StatusServiceUnavailable:
		code = bus.CodeDependencyUnavailable
		msg = "cannot check credentials now; retry later"
		c.Set(fiber.HeaderRetryAfter, "1")
	case reason == ReasonKeyMissing:
		msg = "an API key is required (X-API-Key or Authorization: Bearer)"
	case reason == ReasonKeyInvalid, reason == ReasonKeyRevoked:
		msg = "the API key is not valid"
	default:
		msg = "the request signature is not valid (" + reason + ")"
	}
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="avap", error="invalid_token"`)
	}
	return g.deny(c, status, code, reason, msg)
}

// deny writes the error envelope with an optional reason.
func (g *guard) deny(c *fiber.Ctx, status int, code bus.Code, reason, msg string) error {
	b := make([]byte, 0, 160)
	b = append(b, `{"success":false,"error":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"code":`...)
	b = appendJSONString(b, string(code))
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, reason)
	}
	if id := RequestID(c); id != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, id)
	}
	b = append(b, '}')
	c.Status(status)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	c.Response().SetBodyRaw(b)
	return nil
}
