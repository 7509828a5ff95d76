package bus

import (
	"encoding/binary"
	"math"
)

// This file holds the small msgpack subset the envelopes use, written as
// append-style encoders and a bounds-checked reader (in the manner of
// tinylib/msgp). The output is standard msgpack, readable by any msgpack
// library; the tests check it against github.com/vmihailenco/msgpack/v5.

// msgpack type bytes.
const (
	mpNil      = 0xc0
	mpFalse    = 0xc2
	mpTrue     = 0xc3
	mpBin8     = 0xc4
	mpBin16    = 0xc5
	mpBin32    = 0xc6
	mpExt8     = 0xc7
	mpExt16    = 0xc8
	mpExt32    = 0xc9
	mpFloat32  = 0xca
	mpFloat64  = 0xcb
	mpUint8    = 0xcc
	mpUint16   = 0xcd
	mpUint32   = 0xce
	mpUint64   = 0xcf
	mpInt8     = 0xd0
	mpInt16    = 0xd1
	mpInt32    = 0xd2
	mpInt64    = 0xd3
	mpFixExt1  = 0xd4
	mpFixExt2  = 0xd5
	mpFixExt4  = 0xd6
	mpFixExt8  = 0xd7
	mpFixExt16 = 0xd8
	mpStr8     = 0xd9
	mpStr16    = 0xda
	mpStr32    = 0xdb
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpMap16    = 0xde
	mpMap32    = 0xdf
)

// maxSkipDepth bounds the nesting of unknown values the reader skips.
const maxSkipDepth = 32

func appendNil(b []byte) []byte { return append(b, mpNil) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, mpTrue)
	}
	return append(b, mpFalse)
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, mpArray16, byte(n>>8), byte(n))
	default:
		return append(b, mpArray32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v < 128:
		return append(b, byte(v))
	case v < 0 && v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(b, mpInt8, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return append(b, mpInt16, byte(v>>8), byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return append(b, mpInt32, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(v))
	}
}

func appendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, mpStr8, byte(n))
	case n <= math.MaxUint16:
		b = append(b, mpStr16, byte(n>>8), byte(n))
	default:
		b = append(b, mpStr32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

// appendBytes writes v as bin, or nil when v is nil.
func appendBytes(b []byte, v []byte) []byte {
	if v == nil {
		return append(b, mpNil)
	}
	n := len(v)
	switch {
	case n <= math.MaxUint8:
		b = append(b, mpBin8, byte(n))
	case n <= math.MaxUint16:
		b = append(b, mpBin16, byte(n>>8), byte(n))
	default:
		b = append(b, mpBin32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, v...)
}

// reader decodes msgpack from b. The first error sticks: later reads
// return zero values, so decoders check err once at the end.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = ErrMalformed
	}
}

// need returns the next n bytes, or nil after failing.
func (r *reader) need(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail()
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) byte1() byte {
	s := r.need(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (r *reader) uintN(n int) uint64 {
	s := r.need(n)
	if s == nil {
		return 0
	}
	switch n {
	case 1:
		return uint64(s[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(s))
	case 4:
		return uint64(binary.BigEndian.Uint32(s))
	default:
		return binary.BigEndian.Uint64(s)
	}
}

// isNil consumes a nil and reports whether there was one.
func (r *reader) isNil() bool {
	if r.err == nil && r.off < len(r.b) && r.b[r.off] == mpNil {
		r.off++
		return true
	}
	return false
}

// arrayLen reads an array header. The length is checked against the bytes
// left (every element takes at least one), so a hostile length cannot make
// the caller allocate more than the message size.
func (r *reader) arrayLen() int {
	t := r.byte1()
	var n uint64
	switch {
	case r.err != nil:
		return 0
	case t&0xf0 == 0x90:
		n = uint64(t & 0x0f)
	case t == mpArray16:
		n = r.uintN(2)
	case t == mpArray32:
		n = r.uintN(4)
	case t == mpNil:
		return 0
	default:
		r.fail()
		return 0
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *reader) int() int64 {
	t := r.byte1()
	switch {
	case r.err != nil:
		return 0
	case t <= 0x7f:
		return int64(t)
	case t >= 0xe0:
		return int64(int8(t))
	}
	switch t {
	case mpUint8:
		return int64(r.uintN(1))
	case mpUint16:
		return int64(r.uintN(2))
	case mpUint32:
		return int64(r.uintN(4))
	case mpUint64:
		v := r.uintN(8)
		if v > math.MaxInt64 {
			r.fail()
			return 0
		}
		return int64(v)
	case mpInt8:
		return int64(int8(r.uintN(1)))
	case mpInt16:
		return int64(int16(r.uintN(2)))
	case mpInt32:
		return int64(int32(r.uintN(4)))
	case mpInt64:
		return int64(r.uintN(8))
	case mpNil:
		return 0
	}
	r.fail()
	return 0
}

func (r *reader) bool() bool {
	switch r.byte1() {
	case mpTrue:
		return true
	case mpFalse, mpNil:
		return false
	}
	r.fail()
	return false
}

// strBytes reads a str (or bin) and returns its bytes aliasing the input.
func (r *reader) strBytes() []byte {
	t := r.byte1()
	var n uint64
	switch {
	case r.err != nil:
		return nil
	case t&0xe0 == 0xa0:
		n = uint64(t & 0x1f)
	case t == mpStr8 || t == mpBin8:
		n = r.uintN(1)
	case t == mpStr16 || t == mpBin16:
		n = r.uintN(2)
	case t == mpStr32 || t == mpBin32:
		n = r.uintN(4)
	case t == mpNil:
		return nil
	default:
		r.fail()
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail()
		return nil
	}
	return r.need(int(n))
}

func (r *reader) string() string { return string(r.strBytes()) }

// bytes reads a bin (or str) aliasing the input; nil stays nil, an empty
// value becomes a non-nil empty slice.
func (r *reader) bytes() []byte {
	if r.isNil() {
		return nil
	}
	s := r.strBytes()
	if s == nil && r.err == nil {
		return []byte{}
	}
	return s
}

// skip consumes one value of any type.
func (r *reader) skip(depth int) {
	if depth > maxSkipDepth {
		r.fail()
		return
	}
	t := r.byte1()
	if r.err != nil {
		return
	}
	var n uint64 // bytes to skip
	var elems uint64
	switch {
	case t <= 0x7f || t >= 0xe0 || t == mpNil || t == mpTrue || t == mpFalse:
		return
	case t&0xe0 == 0xa0:
		n = uint64(t & 0x1f)
	case t&0xf0 == 0x90:
		elems = uint64(t & 0x0f)
	case t&0xf0 == 0x80:
		elems = 2 * uint64(t&0x0f)
	default:
		switch t {
		case mpBin8, mpStr8:
			n = r.uintN(1)
		case mpBin16, mpStr16:
			n = r.uintN(2)
		case mpBin32, mpStr32:
			n = r.uintN(4)
		case mpExt8:
			n = r.uintN(1) + 1
		case mpExt16:
			n = r.uintN(2) + 1
		case mpExt32:
			n = r.uintN(4) + 1
		case mpFloat32, mpUint32, mpInt32:
			n = 4
		case mpFloat64, mpUint64, mpInt64:
			n = 8
		case mpUint8, mpInt8:
			n = 1
		case mpUint16, mpInt16:
			n = 2
		case mpFixExt1:
			n = 2
		case mpFixExt2:
			n = 3
		case mpFixExt4:
			n = 5
		case mpFixExt8:
			n = 9
		case mpFixExt16:
			n = 17
		case mpArray16:
			elems = r.uintN(2)
		case mpArray32:
			elems = r.uintN(4)
		case mpMap16:
			elems = 2 * r.uintN(2)
		case mpMap32:
			elems = 2 * r.uintN(4)
		default: // 0xc1 is never used
			r.fail()
			return
		}
	}
	if n > 0 {
		if n > uint64(len(r.b)-r.off) {
			r.fail()
			return
		}
		r.off += int(n)
	}
	if elems > uint64(len(r.b)-r.off) {
		r.fail()
		return
	}
	for i := uint64(0); i < elems && r.err == nil; i++ {
		r.skip(depth + 1)
	}
}
