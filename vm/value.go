package vm

import (
	"fmt"
	"math"
	"sort"
	"unsafe"
)

// Kind is the type of a Value.
type Kind uint8

// Value kinds.
const (
	KindNone Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindList
	KindDict
)

var kindNames = [...]string{"NoneType", "bool", "int", "float", "str", "list", "dict"}

// String returns the Python name of the kind ("int", "str", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Value is an AVAP value: None, bool, int (int64), float (float64), string
// (UTF-8), list or dict (string keys, insertion order). It is a small
// value type: ints, floats, bools and None never allocate. The zero Value
// is None.
//
// Lists and dicts are references: copying a Value shares them. A Value
// returned by Run or passed to a Host must not be modified concurrently
// with the run that owns it.
type Value struct {
	p unsafe.Pointer // string data, *list or *dict
	n uint64         // int64 / float64 bits / bool / string length
	k Kind
}

type list struct {
	elems []Value
	tuple bool // built by a (a, b) display; prints as a tuple
}

type dict struct {
	entries []dictEntry      // in insertion order
	index   map[string]int32 // built when the dict grows past dictIndexMin keys
}

type dictEntry struct {
	key string
	val Value
}

// smallDict holds a dict and room for its first entries in one allocation.
type smallDict struct {
	d   dict
	arr [4]dictEntry
}

const dictIndexMin = 8

// None is the AVAP None value.
var None = Value{}

// Bool returns a bool value.
func Bool(b bool) Value {
	if b {
		return Value{k: KindBool, n: 1}
	}
	return Value{k: KindBool}
}

// Int returns an int value.
func Int(i int64) Value { return Value{k: KindInt, n: uint64(i)} }

// Float returns a float value.
func Float(f float64) Value { return Value{k: KindFloat, n: math.Float64bits(f)} }

// String returns a string value.
func String(s string) Value {
	return Value{k: KindString, p: unsafe.Pointer(unsafe.StringData(s)), n: uint64(len(s))}
}

// NewList returns a list value holding elems (not copied).
func NewList(elems []Value) Value {
	return Value{k: KindList, p: unsafe.Pointer(&list{elems: elems})}
}

// NewDict returns an empty dict value with room for n keys.
func NewDict(n int) Value {
	return Value{k: KindDict, p: unsafe.Pointer(newDict(n))}
}

func newDict(n int) *dict {
	if n <= 4 {
		sd := &smallDict{}
		sd.d.entries = sd.arr[:0:4]
		return &sd.d
	}
	return &dict{entries: make([]dictEntry, 0, n)}
}

func listValue(l *list) Value { return Value{k: KindList, p: unsafe.Pointer(l)} }
func dictValue(d *dict) Value { return Value{k: KindDict, p: unsafe.Pointer(d)} }

// Kind returns the kind of v.
func (v Value) Kind() Kind { return v.k }

// IsNone reports whether v is None.
func (v Value) IsNone() bool { return v.k == KindNone }

// AsBool returns the bool of a bool value (false for other kinds).
func (v Value) AsBool() bool { return v.k == KindBool && v.n != 0 }

// AsInt returns the int of an int value (0 for other kinds).
func (v Value) AsInt() int64 {
	if v.k != KindInt {
		return 0
	}
	return int64(v.n)
}

// AsFloat returns the float of a float or int value (0 for other kinds).
func (v Value) AsFloat() float64 {
	switch v.k {
	case KindFloat:
		return math.Float64frombits(v.n)
	case KindInt:
		return float64(int64(v.n))
	}
	return 0
}

// AsString returns the text of a string value ("" for other kinds; use
// Str for the string form of any value).
func (v Value) AsString() string {
	if v.k != KindString {
		return ""
	}
	return v.str()
}

func (v Value) str() string { return unsafe.String((*byte)(v.p), int(v.n)) }
func (v Value) i() int64    { return int64(v.n) }
func (v Value) f() float64  { return math.Float64frombits(v.n) }
func (v Value) list() *list { return (*list)(v.p) }
func (v Value) dict() *dict { return (*dict)(v.p) }
func (v Value) isNum() bool { return v.k == KindInt || v.k == KindFloat }

// Len returns the number of elements of a list, keys of a dict or
// characters (code points) of a string; 0 for other kinds.
func (v Value) Len() int {
	switch v.k {
	case KindString:
		return strLen(v.str())
	case KindList:
		return len(v.list().elems)
	case KindDict:
		return len(v.dict().entries)
	}
	return 0
}

// Index returns element i of a list (None when out of range or not a list).
func (v Value) Index(i int) Value {
	if v.k != KindList {
		return None
	}
	el := v.list().elems
	if i < 0 || i >= len(el) {
		return None
	}
	return el[i]
}

// Keys returns the keys of a dict in insertion order (nil for other kinds).
func (v Value) Keys() []string {
	if v.k != KindDict {
		return nil
	}
	d := v.dict()
	keys := make([]string, len(d.entries))
	for i, e := range d.entries {
		keys[i] = e.key
	}
	return keys
}

// Get returns the value under key in a dict and whether it was present.
func (v Value) Get(key string) (Value, bool) {
	if v.k != KindDict {
		return None, false
	}
	return v.dict().get(key)
}

// Append appends x to a list value in place; it panics if v is not a list.
// Meant for Host implementations building results.
func (v Value) Append(x Value) {
	l := v.list()
	l.elems = append(l.elems, x)
}

// Set sets key to x in a dict value in place (appending new keys at the
// end); it panics if v is not a dict. Meant for Host implementations.
func (v Value) Set(key string, x Value) { v.dict().set(key, x) }

func (d *dict) lookup(key string) int {
	if d.index != nil {
		if i, ok := d.index[key]; ok {
			return int(i)
		}
		return -1
	}
	for i := range d.entries {
		if d.entries[i].key == key {
			return i
		}
	}
	return -1
}

func (d *dict) get(key string) (Value, bool) {
	if i := d.lookup(key); i >= 0 {
		return d.entries[i].val, true
	}
	return None, false
}

// set stores x under key and reports whether the key is new.
func (d *dict) set(key string, x Value) bool {
	if i := d.lookup(key); i >= 0 {
		d.entries[i].val = x
		return false
	}
	d.entries = append(d.entries, dictEntry{key, x})
	if d.index != nil {
		d.index[key] = int32(len(d.entries) - 1)
	} else {
		d.reindex()
	}
	return true
}

// reindex builds the key index of a dict whose entries were appended
// directly, once it has more than dictIndexMin keys.
func (d *dict) reindex() {
	if len(d.entries) <= dictIndexMin {
		return
	}
	d.index = make(map[string]int32, len(d.entries)*2)
	for i, e := range d.entries {
		d.index[e.key] = int32(i)
	}
}

// ToGo converts v to plain Go data: nil, bool, int64, float64, string,
// []any, or map[string]any (dict order is lost; use MarshalJSON to keep it).
func (v Value) ToGo() any {
	switch v.k {
	case KindBool:
		return v.n != 0
	case KindInt:
		return v.i()
	case KindFloat:
		return v.f()
	case KindString:
		return v.str()
	case KindList:
		el := v.list().elems
		out := make([]any, len(el))
		for i, e := range el {
			out[i] = e.ToGo()
		}
		return out
	case KindDict:
		d := v.dict()
		out := make(map[string]any, len(d.entries))
		for _, e := range d.entries {
			out[e.key] = e.val.ToGo()
		}
		return out
	}
	return nil
}

// FromGo converts plain Go data to a Value: nil, bool, all int and float
// kinds, string, []byte (as text), []any, []string, map[string]any (keys
// sorted, since Go maps have no order), and Value itself.
func FromGo(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return None, nil
	case Value:
		return x, nil
	case bool:
		return Bool(x), nil
	case int:
		return Int(int64(x)), nil
	case int8:
		return Int(int64(x)), nil
	case int16:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case uint8:
		return Int(int64(x)), nil
	case uint16:
		return Int(int64(x)), nil
	case uint32:
		return Int(int64(x)), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return None, fmt.Errorf("vm: integer %d overflows int64", x)
		}
		return Int(int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return None, fmt.Errorf("vm: integer %d overflows int64", x)
		}
		return Int(int64(x)), nil
	case float32:
		return Float(float64(x)), nil
	case float64:
		return Float(x), nil
	case string:
		return String(x), nil
	case []byte:
		return String(string(x)), nil
	case []string:
		el := make([]Value, len(x))
		for i, s := range x {
			el[i] = String(s)
		}
		return NewList(el), nil
	case []any:
		el := make([]Value, len(x))
		for i, e := range x {
			v, err := FromGo(e)
			if err != nil {
				return None, err
			}
			el[i] = v
		}
		return NewList(el), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := newDict(len(keys))
		for _, k := range keys {
			v, err := FromGo(x[k])
			if err != nil {
				return None, err
			}
			d.set(k, v)
		}
		return dictValue(d), nil
	}
	return None, fmt.Errorf("vm: cannot convert %T to a Value", x)
}

// String returns Python's str(v): text as it is, None, True, 3.5, [1, 'a'],
// {'k': 'v'}. Nested values deeper than the machine allows print as "...".
func (v Value) String() string {
	m := Machine{lim: Limits{MaxMemoryBytes: 1 << 62}}
	s, err := m.toStr(v)
	if err != nil {
		return "..."
	}
	return s
}
