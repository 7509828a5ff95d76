package executor

import (
	"crypto/sha256"
	"encoding/binary"
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
}

// programCache is a bounded LRU of compiled programs with one compile per
// key in flight (concurrent requests for a new script wait for it).
type programCache struct {
	lru    *lru.Cache[progKey, *progEntry]
	group  singleflight.Group
	opts   vm.CompileOptions
	format uint64
}

func newProgramCache(size int, opts vm.CompileOptions) (*programCache, error) {
	c, err := lru.New[progKey, *progEntry](size)
	if err != nil {
		return nil, err
	}
	return &programCache{lru: c, opts: opts, format: vmFormat()}, nil
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
	if e, ok := c.lru.Get(key); ok {
		return e.prog, true, e.err
	}
	v, _, _ := c.group.Do(string(key.hash[:]), func() (any, error) {
		if e, ok := c.lru.Get(key); ok {
			return e, nil
		}
		p, err := vm.Compile(name, bytesOf(src), c.opts)
		e := &progEntry{prog: p, err: err}
		c.lru.Add(key, e)
		return e, nil
	})
	e := v.(*progEntry)
	return e.prog, false, e.err
}

func (c *programCache) len() int { return c.lru.Len() }
