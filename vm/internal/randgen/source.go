package randgen

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// source draws uniform integers from a byte stream, buffering reads.
type source struct {
	r   io.Reader
	buf [64]byte
	pos int // next unread byte in buf
	n   int // bytes in buf
}

// uint64n returns a uniform integer in [0, n) for n >= 1, reading as few
// bytes as the range needs and rejecting out-of-range draws (no modulo
// bias). n == 1 reads nothing.
func (s *source) uint64n(n uint64) (uint64, error) {
	if n <= 1 {
		return 0, nil
	}
	nbits := bits.Len64(n - 1)
	nbytes := (nbits + 7) / 8
	mask := uint64(1)<<nbits - 1
	if nbits == 64 {
		mask = ^uint64(0)
	}
	for range maxRejects {
		var v uint64
		for range nbytes {
			if s.pos == s.n {
				n, err := io.ReadAtLeast(s.r, s.buf[:], 1)
				if err != nil {
					return 0, fmt.Errorf("randgen: read random source: %w", err)
				}
				s.pos, s.n = 0, n
			}
			v = v<<8 | uint64(s.buf[s.pos])
			s.pos++
		}
		if v &= mask; v < n {
			return v, nil
		}
	}
	// Each draw is rejected with probability below 1/2, so a uniform source
	// gets here with probability below 2**-128.
	return 0, errors.New("randgen: random source is not uniform")
}

// maxRejects bounds rejection sampling against a broken source.
const maxRejects = 128
