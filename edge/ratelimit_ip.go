package edge

import (
	"bytes"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// clientAddr returns the client address of c: the peer address, or, when
// the peer is a trusted proxy, the right-most X-Forwarded-For entry that
// is not a trusted proxy (entries left of it could be forged by the client).
func (g *guard) clientAddr(c *fiber.Ctx) netip.Addr {
	var peer netip.Addr
	if ta, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		peer = ta.AddrPort().Addr().Unmap()
	}
	if len(g.proxies) == 0 || !g.trusted(peer) {
		return peer
	}
	xff := c.Request().Header.Peek(fiber.HeaderXForwardedFor)
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		part := bytes.TrimSpace(xff[i+1:])
		if i < 0 {
			xff = nil
		} else {
			xff = xff[:i]
		}
		a, err := netip.ParseAddr(b2s(part))
		if err != nil {
			return peer // malformed chain: believe only the proxy itself
		}
		a = a.Unmap()
		if !g.trusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

func (g *guard) trusted(a netip.Addr) bool {
	for _, p := range g.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// inflight counts concurrent requests per client address.
type inflight struct {
	max    int32
	seed   maphash.Seed
	shards [rateShards]struct {
		mu sync.Mutex // guards n
		n  map[netip.Addr]int32
	}
}

func newInflight(max int) *inflight {
	f := &inflight{max: int32(max), seed: maphash.MakeSeed()}
	for i := range f.shards {
		f.shards[i].n = map[netip.Addr]int32{}
	}
	return f
}

func (f *inflight) shard(a netip.Addr) int {
	b := a.As16()
	return int(maphash.Bytes(f.seed, b[:]) % rateShards)
}

// acquire counts one request of a; false when a is at its cap.
func (f *inflight) acquire(a netip.Addr) bool {
	sh := &f.shards[f.shard(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.n[a] >= f.max {
		return false
	}
	sh.n[a]++
	return true
}

func (f *inflight) release(a netip.Addr) {
	sh := &f.shards[f.shard(a)]
	sh.mu.Lock()
	if n := sh.n[a] - 1; n > 0 {
		sh.n[a] = n
	} else {
		delete(sh.n, a)
	}
	sh.mu.Unlock()
}
