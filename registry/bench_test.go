package registry_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/avapmesh/avap/registry"
)

// benchMesh publishes n libraries and returns the mesh and their hashes.
func benchMesh(b *testing.B, n int) (*mesh, []string) {
	b.Helper()
	st, err := registry.OpenFileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	m := startMeshTB(b, st)
	hashes := make([]string, n)
	for i := range n {
		p := build(b, fmt.Sprintf("lib%d", i), "1.0.0", registry.KindLibrary, mathV1, nil)
		env, _ := seal(b, p, m.signer)
		e, err := m.client.Publish(context.Background(), env)
		if err != nil {
			b.Fatal(err)
		}
		hashes[i] = e.Hash
	}
	return m, hashes
}

func benchCache(b *testing.B, m *mesh, size int) *registry.Cache {
	c, err := registry.NewCache(registry.CacheOptions{Conn: connect(b, m.url), Trusted: m.keys, Bucket: m.bucket, Size: size, Precache: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return c
}

// BenchmarkLookup measures one package lookup per tier: an L1 hit, an L2
// hit (KV get + signature check), and an L3 miss path (KV miss, registry
// request, verify, fill L2).
func BenchmarkLookup(b *testing.B) {
	m, hashes := benchMesh(b, 1)
	h := hashes[0]
	ctx := context.Background()
	b.Run("L1", func(b *testing.B) {
		c := benchCache(b, m, 0)
		if _, _, err := c.Get(ctx, h); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, tier, err := c.Get(ctx, h); err != nil || tier != registry.TierL1 {
				b.Fatal(tier, err)
			}
		}
	})
	b.Run("L2", func(b *testing.B) {
		c := benchCache(b, m, 0)
		b.ReportAllocs()
		for b.Loop() {
			c.Evict(h)
			if _, tier, err := c.Get(ctx, h); err != nil || tier != registry.TierL2 {
				b.Fatal(tier, err)
			}
		}
	})
	b.Run("L3", func(b *testing.B) {
		c := benchCache(b, m, 0)
		kv := bucketTB(b, m)
		b.ReportAllocs()
		for b.Loop() {
			c.Evict(h)
			if err := kv.Purge(ctx, "pkg."+h); err != nil {
				b.Fatal(err)
			}
			if _, tier, err := c.Get(ctx, h); err != nil || tier != registry.TierL3 {
				b.Fatal(tier, err)
			}
		}
	})
}

// BenchmarkZipf looks packages up under a Zipf workload (s=1.1) over 200
// packages with an L1 of 32 entries and reports the L1 hit ratio.
func BenchmarkZipf(b *testing.B) {
	const n = 200
	m, hashes := benchMesh(b, n)
	c := benchCache(b, m, 32)
	ctx := context.Background()
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, n-1)
	for b.Loop() {
		if _, _, err := c.Get(ctx, hashes[z.Uint64()]); err != nil {
			b.Fatal(err)
		}
	}
	st := c.Stats()
	hits, misses := st[registry.TierL1][0], st[registry.TierL1][1]
	b.ReportMetric(float64(hits)/float64(hits+misses), "l1-hit-ratio")
}
