package executor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/avapmesh/avap/vm"
)

// progKey identifies a compiled program: the SHA-256 of its source and
// the bytecode format of the VM that compiled it. Within one process the
// format is constant; it is part of the key so entries can be shared with
// (or loaded from) stores that outlive a binary upgrade.
type progKey struct {
	hash   [32]byte
	format uint64
}

// progEntry is a cached compile result; compile errors are cached too, so
// a client resending a broken script does not recompile it each time.
type progEntry struct {
	prog *vm.Program
	err  error
	gen  uint64 // importer generation at compile time (see programCache.stale)
}

// programCache is a bounded LRU of compiled programs with one compile per
// key in flight (concurrent requests for a new script wait for it).
type programCache struct {
	lru    *lru.Cache[progKey, *progEntry]
	group  singleflight.Group
	opts   vm.CompileOptions
	format uint64
	// gen is the catalogue generation of opts.Importer when it has one
	// (the registry cache): a program that imports libraries, or failed to
	// compile, is relinked after a publish, deprecation or revocation.
	gen func() uint64
}

func newProgramCache(size int, opts vm.CompileOptions) (*programCache, error) {
	c, err := lru.New[progKey, *progEntry](size)
	if err != nil {
		return nil, err
	}
	pc := &programCache{lru: c, opts: opts, format: vmFormat()}
	if g, ok := opts.Importer.(interface{ Generation() uint64 }); ok {
		pc.gen = g.Generation
	}
	return pc, nil
}

// vmFormat returns the 8 bytes that follow the 4-byte magic of an encoded
// program (the VM's bytecode format version), or 0 while the VM cannot
// encode programs.
func vmFormat() uint64 {
	p, err := vm.Compile("format", nil, vm.CompileOptions{})
	if err != nil {
		return 0
	}
	b, err := p.MarshalBinary()
	if err != nil || len(b) < 12 {
		return 0
	}
	return binary.BigEndian.Uint64(b[4:12])
}

// bytesOf views s as bytes without copying; the result must not be modified.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// get returns the program for src, compiling it on a miss. hit reports a
// cache hit (for stats).
func (c *programCache) get(name, src string) (prog *vm.Program, hit bool, err error) {
	key := progKey{hash: sha256.Sum256(bytesOf(src)), format: c.format}
	if e, ok := c.lru.Get(key); ok && !c.stale(e) {
		return e.prog, true, e.err
	}
	v, _, _ := c.group.Do(string(key.hash[:]), func() (any, error) {
		if e, ok := c.lru.Get(key); ok && !c.stale(e) {
			return e, nil
		}
		var gen uint64
		if c.gen != nil {
			gen = c.gen()
		}
		ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
		p, err := vm.CompileContext(ctx, name, bytesOf(src), c.opts)
		cancel()
		e := &progEntry{prog: p, err: err, gen: gen}
		c.lru.Add(key, e)
		return e, nil
	})
	e := v.(*progEntry)
	return e.prog, false, e.err
}

// importTimeout bounds resolving the imports of one compile.
const importTimeout = 5 * time.Second

// stale reports whether e was linked against an older registry catalogue.
func (c *programCache) stale(e *progEntry) bool {
	if c.gen == nil || e.gen == c.gen() {
		return false
	}
	return e.err != nil || len(e.prog.Imports()) > 0
}

func (c *programCache) len() int { return c.lru.Len() }
