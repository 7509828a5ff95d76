package edge

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// Defaults of RateLimitOptions.
const (
	DefaultShareInterval = 50 * time.Millisecond
	DefaultBucketIdle    = 2 * time.Minute
	rateShards           = 64
	maxBucketsPerShard   = 16384 // bounds memory under a flood of distinct IPs
)

// RateLimit is one token bucket: RPS tokens per second up to Burst.
// RPS 0 means "no limit".
type RateLimit struct {
	RPS   float64 // sustained requests per second; 0 = off
	Burst int     // bucket size; 0 = max(1, ceil(RPS))
}

func (l RateLimit) on() bool { return l.RPS > 0 }

func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int(math.Ceil(l.RPS)))
}

// RateLimitOptions are the limits of an edge. They can be replaced at run
// time (Server.SetRateLimits, on SIGHUP).
type RateLimitOptions struct {
	PerIP     RateLimit            // per client address (after trusted proxies)
	PerKey    RateLimit            // per API key, unless the key sets its own
	Endpoints map[string]RateLimit // per route path (e.g. "/api/v1/execute"), for all clients together
	// NoShare keeps consumption local; by default every edge reports what it
	// admitted to the others over NATS (bus.RateUsageSubject) every
	// ShareInterval, so key and endpoint limits hold cluster-wide.
	NoShare       bool
	ShareInterval time.Duration // 0 = DefaultShareInterval
}

// Limiter key kinds (first byte of the shared key).
const (
	kindIP       = 'i'
	kindKey      = 'k'
	kindEndpoint = 'e'
)

// bucket is one token bucket.
type bucket struct {
	lim  *rate.Limiter
	gen  uint64       // limits generation it was configured with
	used atomic.Int64 // unix nanos of the last use (for eviction)
}

type rateShard struct {
	mu      sync.Mutex // guards buckets and pending
	buckets map[string]*bucket
	pending map[string]uint32 // admitted since the last report
}

// limiter holds every bucket of an edge.
type limiter struct {
	opts    atomic.Pointer[RateLimitOptions]
	gen     atomic.Uint64
	seed    maphash.Seed
	shards  [rateShards]rateShard
	resolve func(key string) (RateLimit, bool) // limit of a key first seen in a remote report
	share   bool
}

func newLimiter(o RateLimitOptions) *limiter {
	l := &limiter{seed: maphash.MakeSeed(), share: !o.NoShare}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
		l.shards[i].pending = map[string]uint32{}
	}
	l.set(o)
	return l
}

func (l *limiter) set(o RateLimitOptions) {
	if o.ShareInterval <= 0 {
		o.ShareInterval = DefaultShareInterval
	}
	l.opts.Store(&o)
	l.gen.Add(1)
}

func (l *limiter) shard(key string) *rateShard {
	return &l.shards[maphash.String(l.seed, key)%rateShards]
}

// decision is the outcome of one bucket check, for the RateLimit-* headers.
type decision struct {
	ok        bool
	limit     int           // burst (the quota of one window)
	remaining int           // whole tokens left
	reset     time.Duration // until the bucket is full again
	retry     time.Duration // until one token is available (when !ok)
}

// allow takes one token from the bucket key configured with lim.
func (l *limiter) allow(key string, lim RateLimit, now time.Time) decision {
	sh := l.shard(key)
	gen := l.gen.Load()
	sh.mu.Lock()
	b := sh.buckets[key]
	if b == nil {
		if len(sh.buckets) >= maxBucketsPerShard {
			evictOldest(sh, now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(lim.RPS), lim.burst()), gen: gen}
		sh.buckets[key] = b
	} else if b.gen != gen {
		b.lim.SetLimitAt(now, rate.Limit(lim.RPS))
		b.lim.SetBurstAt(now, lim.burst())
		b.gen = gen
	}
	ok := b.lim.AllowN(now, 1)
	if ok && l.share && key[0] != kindIP {
		sh.pending[key]++
	}
	sh.mu.Unlock()
	b.used.Store(now.UnixNano())
	tokens := b.lim.TokensAt(now)
	d := decision{ok: ok, limit: lim.burst()}
	if tokens > 0 {
		d.remaining = int(tokens)
	}
	d.reset = time.Duration((float64(d.limit) - tokens) / lim.RPS * float64(time.Second))
	if !ok {
		d.retry = time.Duration((1 - tokens) / lim.RPS * float64(time.Second))
	}
	return d
}

// evictOldest drops the least recently used quarter of a full shard.
func evictOldest(sh *rateShard, now time.Time) {
	cut := now.Add(-DefaultBucketIdle).UnixNano()
	for k, b := range sh.buckets {
		if b.used.Load() < cut {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) < maxBucketsPerShard {
		return
	}
	n := 0
	for k := range sh.buckets { // map order is random: drop an arbitrary quarter
		delete(sh.buckets, k)
		if n++; n >= maxBucketsPerShard/4 {
			return
		}
	}
}

// consumeRemote takes n tokens that another edge admitted for key.
func (l *limiter) consumeRemote(key string, n uint32, now time.Time) {
	if key == "" || n == 0 {
		return
	}
	sh := l.shard(key)
	sh.mu.Lock()
	b := sh.buckets[key]
	if b == nil && l.resolve != nil {
		if lim, ok := l.resolve(key); ok && lim.on() && len(sh.buckets) < maxBucketsPerShard {
			b = &bucket{lim: rate.NewLimiter(rate.Limit(lim.RPS), lim.burst()), gen: l.gen.Load()}
			sh.buckets[key] = b
		}
	}
	sh.mu.Unlock()
	if b == nil {
		return
	}
	b.used.Store(now.UnixNano())
	take := min(int(n), b.lim.Burst())
	// ReserveN never blocks; the tokens go negative (a debt the local
	// clients pay back before they are admitted again).
	b.lim.ReserveN(now, take)
}

// drain returns and clears what was admitted locally since the last call.
func (l *limiter) drain(dst []busUsage) []busUsage {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, n := range sh.pending {
			dst = append(dst, busUsage{Key: k, N: n})
		}
		clear(sh.pending)
		sh.mu.Unlock()
	}
	return dst
}

// sweep drops buckets idle for DefaultBucketIdle.
func (l *limiter) sweep(now time.Time) int {
	cut := now.Add(-DefaultBucketIdle).UnixNano()
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, b := range sh.buckets {
			if b.used.Load() < cut {
				delete(sh.buckets, k)
			}
		}
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}

// setRateHeaders writes the RateLimit-* headers of d (draft-ietf-httpapi-
// ratelimit-headers: Limit = quota of the window, Remaining, Reset in
// seconds) and, when d refused, Retry-After.
func setRateHeaders(c *fiber.Ctx, d decision) {
	h := &c.Response().Header
	var buf [20]byte
	h.SetBytesV("RateLimit-Limit", strconv.AppendInt(buf[:0], int64(d.limit), 10))
	h.SetBytesV("RateLimit-Remaining", strconv.AppendInt(buf[:0], int64(d.remaining), 10))
	h.SetBytesV("RateLimit-Reset", strconv.AppendInt(buf[:0], ceilSeconds(d.reset), 10))
	if !d.ok {
		h.SetBytesV(fiber.HeaderRetryAfter, strconv.AppendInt(buf[:0], max(1, ceilSeconds(d.retry)), 10))
	}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
