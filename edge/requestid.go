package edge

import (
	"crypto/rand"
	"sync/atomic"
)

// idGen makes request ids: a random 12-character prefix chosen when the
// server is built, then a 10-character base62 counter. Ids are unique
// across processes (the prefix) and within one (the counter, which does
// not wrap in practice: 62^10 ≈ 8·10^17), have the shape and length of a
// nuid, and cost one atomic add and one small allocation, with no lock.
type idGen struct {
	prefix [idPrefixLen]byte
	seq    atomic.Uint64
}

const (
	idPrefixLen = 12
	idSeqLen    = 10
	idDigits    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

func newIDGen() *idGen {
	g := &idGen{}
	var r [idPrefixLen]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand panics rather than return short)
	for i, b := range r {
		g.prefix[i] = idDigits[int(b)%len(idDigits)]
	}
	var s [8]byte
	_, _ = rand.Read(s[:])
	// Start at a random point so restarts within one prefix collision
	// (practically impossible) would still not repeat ids.
	g.seq.Store(uint64(s[0])<<24 | uint64(s[1])<<16 | uint64(s[2])<<8 | uint64(s[3]))
	return g
}

// next returns a new id.
func (g *idGen) next() string {
	var b [idPrefixLen + idSeqLen]byte
	copy(b[:], g.prefix[:])
	n := g.seq.Add(1)
	for i := len(b) - 1; i >= idPrefixLen; i-- {
		b[i] = idDigits[n%uint64(len(idDigits))]
		n /= uint64(len(idDigits))
	}
	return string(b[:])
}
