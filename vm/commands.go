package vm

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/avapmesh/avap/vm/internal/compile"
	"github.com/avapmesh/avap/vm/internal/pytime"
	"github.com/avapmesh/avap/vm/internal/randgen"
)

// command runs command id with the values the compiler pushed for it (see
// compile.CommandSpec: Value and Source parameters, Update targets; plain
// Targets only for Host commands). The result is stored by the caller.
// args aliases the machine stack: commands must not retain it.
func (m *Machine) command(id int, args []Value) (Value, error) {
	spec := compile.Command(id)
	if spec.Host {
		return m.hostCall(spec.Name, args)
	}
	arg := func(i int) Value {
		if i < len(args) {
			return args[i]
		}
		return None
	}
	switch id {
	case compile.CmdAddVar:
		return defined(arg(0)), nil
	case compile.CmdAddParam:
		name, err := m.toStr(defined(arg(0)))
		if err != nil {
			return None, err
		}
		return m.param(name)
	case compile.CmdGetQueryParamList:
		return m.queryParamList()
	case compile.CmdVariableToList:
		return m.variableToList(defined(arg(0)), arg(1))
	case compile.CmdItemFromList:
		return m.itemFromList(arg(0), defined(arg(1)))
	case compile.CmdGetListLen:
		return m.getListLen(arg(0))
	case compile.CmdAddvariableToJSON:
		return m.addVariableToJSON(defined(arg(0)), defined(arg(1)), arg(2))
	case compile.CmdVariableFromJSON:
		return m.variableFromJSON(arg(0), defined(arg(1)))
	case compile.CmdReplace:
		return m.replace(defined(arg(0)), defined(arg(1)), defined(arg(2)))
	case compile.CmdGetRegex:
		return m.getRegex(defined(arg(0)), defined(arg(1)))
	case compile.CmdRandomString:
		if len(args) == 1 { // randomString(length, target)
			return m.randomString(String("[A-Za-z0-9]"), defined(arg(0)))
		}
		return m.randomString(defined(arg(0)), defined(arg(1)))
	case compile.CmdEncodeSHA256, compile.CmdEncodeMD5:
		s, err := m.toStr(defined(arg(0)))
		if err != nil {
			return None, err
		}
		var sum []byte
		if id == compile.CmdEncodeSHA256 {
			h := sha256.Sum256([]byte(s))
			sum = h[:]
		} else {
			h := md5.Sum([]byte(s))
			sum = h[:]
		}
		if err := m.charge(80); err != nil {
			return None, err
		}
		return String(hex.EncodeToString(sum)), nil
	case compile.CmdGetDateTime:
		return m.getDateTime(defined(arg(0)), defined(arg(1)), defined(arg(2)))
	case compile.CmdGetTimeStamp:
		return m.getTimeStamp(defined(arg(0)), defined(arg(1)), defined(arg(2)))
	case compile.CmdStampToDatetime:
		return m.stampToDatetime(defined(arg(0)), defined(arg(1)), defined(arg(2)))
	case compile.CmdAsyncStore: // (id, mark, task) after the SPAWN of a go_async block
		return m.storeTask(true, args)
	case compile.CmdGoStore: // (mark, task) after the SPAWN of go(f, args...)
		return m.storeTask(false, args)
	case compile.CmdAsyncMark: // kept for the bytecode format; tasks really run concurrently now
		return None, nil
	case compile.CmdGather:
		return m.gather(defined(arg(0)), args)
	case compile.CmdMethod:
		return m.methodCall(args)
	case compile.CmdAddLog, compile.CmdLog:
		s, err := m.toStr(defined(arg(0)))
		if err != nil {
			return None, err
		}
		if err := m.charge(int64(len(s)) + 16); err != nil {
			return None, err
		}
		return None, m.addLog(s)
	}
	return None, m.errorf("command %s is not implemented", spec.Name)
}

// addLog appends a log line to the run's logs (those of the root machine
// when the run has tasks), counting it in the output limit.
func (m *Machine) addLog(s string) error {
	o := m
	if sh := m.sh; sh != nil {
		o = sh.root
		sh.mu.Lock()
		defer sh.mu.Unlock()
	}
	o.outBytes += int64(len(s)) + 4
	if o.outBytes > m.lim.MaxOutputBytes {
		return fatal(ErrOutputLimit)
	}
	o.logs = append(o.logs, s)
	return nil
}

// defined turns undef into None.
func defined(v Value) Value {
	if v.k == kindUndef {
		return None
	}
	return v
}

// hostCall runs an outside command on Input.Host.
func (m *Machine) hostCall(name string, args []Value) (Value, error) {
	if m.in.Host == nil {
		return None, &runtimeError{msg: name + " is not available on this server", cause: ErrNotAvailable}
	}
	cp := make([]Value, len(args))
	for i, a := range args {
		cp[i] = defined(a)
	}
	m.yieldSteps() // a run with tasks: do not hold steps while blocked
	ctx, cancel := context.WithDeadline(context.WithValue(m.ctx, hostMachineKey{}, m), m.deadline)
	m.hostStop.Store(&cancel)
	if rec := m.cancel.Load(); rec != nil && rec.gen == m.gen.Load() { // a Cancel raced with the store
		cancel()
	}
	v, err := m.in.Host.Call(ctx, name, cp)
	m.hostStop.Store(nil)
	cancel()
	if err != nil {
		if rec := m.cancel.Load(); rec != nil && rec.gen == m.gen.Load() {
			return None, causeErr(rec.cause)
		}
		if errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(m.deadline) {
			return None, fatal(ErrTimeout)
		}
		return None, &runtimeError{msg: name + ": " + err.Error(), cause: err}
	}
	if v.k == kindUndef {
		v = None
	}
	if err := m.chargeValue(v, 0); err != nil {
		return None, err
	}
	return v, nil
}

// chargeValue charges the memory budget for a value made outside the
// machine (a Host result).
func (m *Machine) chargeValue(v Value, depth int) error {
	if depth > maxNest {
		return m.errorf("value nested too deeply (or cyclic)")
	}
	switch v.k {
	case KindString:
		return m.charge(int64(v.n) + 16)
	case KindList:
		el := v.list().elems
		if err := m.chargeList(len(el)); err != nil {
			return err
		}
		for _, e := range el {
			if err := m.chargeValue(e, depth+1); err != nil {
				return err
			}
		}
	case KindDict:
		d := v.dict()
		if err := m.charge(int64(len(d.entries))*64 + 64); err != nil {
			return err
		}
		for _, e := range d.entries {
			if err := m.charge(int64(len(e.key))); err != nil {
				return err
			}
			if err := m.chargeValue(e.val, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// addResult publishes a copy of v under name (copy on call).
func (m *Machine) addResult(name string, v Value) error {
	c, err := m.copyValue(defined(v), 0)
	if err != nil {
		return err
	}
	o := m
	if sh := m.sh; sh != nil { // a run with tasks: the root holds the results
		o = sh.root
		sh.mu.Lock()
		defer sh.mu.Unlock()
	}
	if o.results == nil {
		o.results = &o.resDict
	}
	o.results.set(name, c)
	return nil
}

// copyValue deep-copies lists and dicts, charging memory.
func (m *Machine) copyValue(v Value, depth int) (Value, error) {
	switch v.k {
	case KindList:
		if depth > maxNest {
			return None, m.errorf("value nested too deeply (or cyclic)")
		}
		el := v.list().elems
		if err := m.chargeList(len(el)); err != nil {
			return None, err
		}
		out := make([]Value, len(el))
		for i, e := range el {
			c, err := m.copyValue(e, depth+1)
			if err != nil {
				return None, err
			}
			out[i] = c
		}
		return listValue(&list{elems: out, tuple: v.list().tuple}), nil
	case KindDict:
		if depth > maxNest {
			return None, m.errorf("value nested too deeply (or cyclic)")
		}
		d := v.dict()
		if err := m.charge(int64(len(d.entries))*64 + 64); err != nil {
			return None, err
		}
		nd := newDict(len(d.entries))
		for _, e := range d.entries {
			c, err := m.copyValue(e.val, depth+1)
			if err != nil {
				return None, err
			}
			nd.entries = append(nd.entries, dictEntry{e.key, c})
		}
		nd.reindex()
		return dictValue(nd), nil
	}
	return v, nil
}

// ---------------------------------------------------------------------------
// Request parameters

// bodyReserved reports whether a body key is not a request parameter.
func bodyReserved(key string) bool {
	switch key {
	case "script", "variables", "params", "limits", "command", "id", "items":
		return true
	}
	return false
}

// param looks name up in the addParam cascade: query string, params
// object, other body keys, form fields (Part A, reserved variables).
func (m *Machine) param(name string) (Value, error) {
	for _, p := range m.in.Path {
		if p.Name == name {
			return m.coerceParam(p.Value)
		}
	}
	for _, p := range m.in.Query {
		if p.Name == name {
			return m.coerceParam(p.Value)
		}
	}
	if len(m.in.Params) > 0 {
		if m.params.k == kindUndef {
			m.params = m.decodeObject(m.in.Params)
		}
		if m.params.k == KindDict {
			if v, ok := m.params.dict().get(name); ok {
				return m.copyValue(v, 0)
			}
		}
	}
	if len(m.in.Body) > 0 && !bodyReserved(name) {
		if m.body.k == kindUndef {
			m.body = m.decodeObject(m.in.Body)
		}
		if m.body.k == KindDict {
			if v, ok := m.body.dict().get(name); ok {
				return m.copyValue(v, 0)
			}
		}
	}
	for _, p := range m.in.Form {
		if p.Name == name {
			return m.coerceParam(p.Value)
		}
	}
	return None, nil
}

// decodeObject decodes a JSON object of the input; anything else is None.
func (m *Machine) decodeObject(data []byte) Value {
	v, err := m.decodeJSON(data)
	if err != nil || v.k != KindDict {
		return None
	}
	return v
}

// coerceParam converts query/form text (Part B §12.1): all digits → int,
// decimal text → float, empty → None, valid JSON text → its value, else
// the text.
func (m *Machine) coerceParam(s string) (Value, error) {
	if s == "" {
		return None, nil
	}
	if err := m.charge(int64(len(s)) + 16); err != nil {
		return None, err
	}
	if isDigits(s) {
		if v, err := m.builtinInt(String(s)); err == nil {
			return v, nil
		}
	}
	if isDecimal(s) {
		if f, ok := parsePyFloat(s); ok {
			return Float(f), nil
		}
	}
	switch s[0] {
	case '{', '[', '"', 't', 'f', 'n':
		if v, err := m.decodeJSON([]byte(s)); err == nil {
			return v, nil
		} else if re, ok := err.(*runtimeError); ok && re.fatal {
			return None, err
		}
	}
	return String(s), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimal reports whether s is [+-]digits[.digits][e[+-]digits] (or
// .digits) — the float texts addParam converts.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	d := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		d++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			d++
		}
	}
	if d == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			e++
		}
		if e == 0 {
			return false
		}
	}
	return i == len(s)
}

func (m *Machine) queryParamList() (Value, error) {
	q := m.in.Query
	if err := m.chargeList(len(q)); err != nil {
		return None, err
	}
	out := make([]Value, 0, len(q))
	seen := map[string]bool{}
	for _, p := range q {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		if err := m.charge(int64(len(p.Name)+len(p.Value)) + 128); err != nil {
			return None, err
		}
		d := newDict(1)
		d.set(p.Name, String(p.Value))
		out = append(out, dictValue(d))
	}
	return NewList(out), nil
}

// ---------------------------------------------------------------------------
// Collections and JSON objects

func (m *Machine) variableToList(elem, cur Value) (Value, error) {
	l := cur
	if l.k != KindList {
		if err := m.chargeList(4); err != nil {
			return None, err
		}
		l = NewList(make([]Value, 0, 4))
	}
	if elem.k != KindNone {
		lst := l.list()
		if len(lst.elems) == cap(lst.elems) {
			if err := m.chargeList(cap(lst.elems) + 1); err != nil {
				return None, err
			}
		}
		lst.elems = append(lst.elems, elem)
	}
	return l, nil
}

// asList returns v as a list: lists as they are, strings holding a JSON
// (or Python-style) list literal parsed.
func (m *Machine) asList(v Value) (Value, bool) {
	if v.k == KindList {
		return v, true
	}
	if v.k == KindString {
		s := trimSpace(v.str())
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			if l, err := m.decodeJSON([]byte(s)); err == nil && l.k == KindList {
				return l, true
			}
			if l, err := m.decodeJSON([]byte(pyLiteralToJSON(s))); err == nil && l.k == KindList {
				return l, true
			}
		}
	}
	return None, false
}

// pyLiteralToJSON rewrites the simple Python literal forms Lite scripts
// store in strings (single quotes, None/True/False) into JSON.
func pyLiteralToJSON(s string) string {
	var b strings.Builder
	inStr := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr != 0:
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(c)
				i++
				b.WriteByte(s[i])
				continue
			}
			if c == inStr {
				inStr = 0
				b.WriteByte('"')
				continue
			}
			if c == '"' {
				b.WriteString(`\"`)
				continue
			}
			b.WriteByte(c)
		case c == '\'' || c == '"':
			inStr = c
			b.WriteByte('"')
		case strings.HasPrefix(s[i:], "None"):
			b.WriteString("null")
			i += 3
		case strings.HasPrefix(s[i:], "True"):
			b.WriteString("true")
			i += 3
		case strings.HasPrefix(s[i:], "False"):
			b.WriteString("false")
			i += 4
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (m *Machine) itemFromList(src, idx Value) (Value, error) {
	if src.k == kindUndef {
		return None, m.errorf("itemFromList: source variable is not defined")
	}
	l, ok := m.asList(src)
	if !ok {
		return None, m.errorf("itemFromList: source is not a list (%s)", typeName(src))
	}
	i, err := m.intArg("itemFromList index", idx)
	if err != nil {
		return None, err
	}
	el := l.list().elems
	j := i
	if j < 0 {
		j += int64(len(el))
	}
	if j < 0 || j >= int64(len(el)) {
		return None, m.errorf("itemFromList: index %d out of range (length %d)", i, len(el))
	}
	return el[j], nil
}

// intArg converts a numeric argument (int, whole float, numeric text).
func (m *Machine) intArg(what string, v Value) (int64, error) {
	switch v.k {
	case KindInt, KindBool:
		return int64(v.n), nil
	case KindFloat:
		if f := v.f(); f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return int64(f), nil
		}
	case KindString:
		s := trimSpace(v.str())
		if r, err := m.builtinInt(String(s)); err == nil {
			return r.i(), nil
		}
		if f, ok := parsePyFloat(s); ok && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return int64(f), nil
		}
	}
	return 0, m.errorf("%s must be an integer, not %s", what, typeName(v))
}

// numArg converts a numeric argument to float (numbers, numeric text;
// None and "" are 0).
func (m *Machine) numArg(what string, v Value) (float64, error) {
	switch v.k {
	case KindNone:
		return 0, nil
	case KindInt, KindBool, KindFloat:
		return numFloat(v), nil
	case KindString:
		s := trimSpace(v.str())
		if s == "" {
			return 0, nil
		}
		if f, ok := parsePyFloat(s); ok {
			return f, nil
		}
	}
	return 0, m.errorf("%s must be a number, not %s", what, typeName(v))
}

func (m *Machine) getListLen(src Value) (Value, error) {
	switch src.k {
	case kindUndef, KindNone:
		return Int(0), nil
	case KindList, KindDict:
		return Int(int64(src.Len())), nil
	case KindString:
		if l, ok := m.asList(src); ok {
			return Int(int64(len(l.list().elems))), nil
		}
		return Int(int64(strLen(src.str()))), nil
	}
	return None, m.errorf("getListLen: object of type '%s' has no length", typeName(src))
}

func (m *Machine) addVariableToJSON(key, val, cur Value) (Value, error) {
	d := cur
	if d.k != KindDict {
		d = dictValue(newDict(4))
	}
	k, err := m.dictKey(key)
	if err != nil {
		return None, err
	}
	if err := m.charge(int64(len(k)) + 64); err != nil {
		return None, err
	}
	d.dict().set(k, val)
	return d, nil
}

func (m *Machine) variableFromJSON(src, key Value) (Value, error) {
	if src.k == kindUndef {
		return None, m.errorf("variableFromJSON: source variable is not defined")
	}
	if src.k == KindString {
		v, err := m.decodeJSON([]byte(src.str()))
		if err != nil {
			if re, ok := err.(*runtimeError); ok && re.fatal {
				return None, err
			}
			v, err = m.decodeJSON([]byte(pyLiteralToJSON(src.str())))
			if err != nil {
				return None, nil
			}
		}
		src = v
	}
	switch src.k {
	case KindDict:
		k, err := m.dictKey(key)
		if err != nil {
			return None, err
		}
		v, _ := src.dict().get(k)
		return v, nil
	case KindList:
		if i, err := m.intArg("key", key); err == nil {
			el := src.list().elems
			if i < 0 {
				i += int64(len(el))
			}
			if i >= 0 && i < int64(len(el)) {
				return el[i], nil
			}
		}
	}
	return None, nil
}

// ---------------------------------------------------------------------------
// Strings

func (m *Machine) replace(src, old, repl Value) (Value, error) {
	s, err := m.toStr(src)
	if err != nil {
		return None, err
	}
	o, err := m.toStr(old)
	if err != nil {
		return None, err
	}
	r, err := m.toStr(repl)
	if err != nil {
		return None, err
	}
	if o == "" {
		o = " " // an empty pattern means a single space (Part B §12.5)
	}
	n := strings.Count(s, o)
	if n == 0 {
		return String(s), nil
	}
	size := int64(len(s)) + int64(n)*(int64(len(r))-int64(len(o)))
	if err := m.charge(size + 16); err != nil {
		return None, err
	}
	return String(strings.ReplaceAll(s, o, r)), nil
}

func (m *Machine) getRegex(src, pat Value) (Value, error) {
	s, err := m.toStr(src)
	if err != nil {
		return None, err
	}
	p, err := m.toStr(pat)
	if err != nil {
		return None, err
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return None, m.errorf("getRegex: invalid pattern %s: %v", string(appendPyQuote(nil, p)), err)
	}
	matches := re.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return None, nil
	}
	var b strings.Builder
	for _, mt := range matches {
		if re.NumSubexp() == 0 {
			b.WriteString(s[mt[0]:mt[1]])
			continue
		}
		for g := 1; g <= re.NumSubexp(); g++ {
			if mt[2*g] >= 0 {
				b.WriteString(s[mt[2*g]:mt[2*g+1]])
			}
		}
	}
	if err := m.charge(int64(b.Len()) + 16); err != nil {
		return None, err
	}
	return String(b.String()), nil
}

func (m *Machine) randomString(pat, length Value) (Value, error) {
	p, err := m.toStr(pat)
	if err != nil {
		return None, err
	}
	n, err := m.intArg("randomString length", length)
	if err != nil {
		return None, err
	}
	if n < 0 || n > randgen.MaxLength {
		return None, m.errorf("randomString: length %d out of range (0..%d)", n, randgen.MaxLength)
	}
	if err := m.charge(4*n + 16); err != nil {
		return None, err
	}
	s, err := randgen.Generate(p, int(n), rand.Reader)
	if err != nil {
		return None, m.errorf("randomString: %v", err)
	}
	return String(s), nil
}

// ---------------------------------------------------------------------------
// Dates (Part B §12.7, Part A #17)

func (m *Machine) location(zone Value) (*time.Location, error) {
	z := ""
	if zone.k == KindString {
		z = trimSpace(zone.str())
	} else if zone.k != KindNone {
		return nil, m.errorf("time zone must be a string, not %s", typeName(zone))
	}
	if z == "" || z == "current" || z == "Current" || z == "local" {
		if m.in.Location != nil {
			return m.in.Location, nil
		}
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(z)
	if err != nil || z == "Local" {
		return nil, m.errorf("unknown time zone %s", string(appendPyQuote(nil, z)))
	}
	return loc, nil
}

func (m *Machine) defaultLocation() *time.Location {
	if m.in.Location != nil {
		return m.in.Location
	}
	return time.UTC
}

func (m *Machine) formatTime(t time.Time, format Value) (Value, error) {
	f, err := m.toStr(format)
	if err != nil {
		return None, err
	}
	if format.k == KindNone || f == "" {
		return Float(float64(t.UnixNano()) / 1e9), nil
	}
	s, err := pytime.Format(t, f)
	if err != nil {
		return None, m.errorf("%v", err)
	}
	if err := m.charge(int64(len(s)) + 16); err != nil {
		return None, err
	}
	return String(s), nil
}

func addSeconds(t time.Time, delta float64) time.Time {
	return t.Add(time.Duration(delta * float64(time.Second)))
}

func (m *Machine) getDateTime(format, delta, zone Value) (Value, error) {
	loc, err := m.location(zone)
	if err != nil {
		return None, err
	}
	d, err := m.numArg("getDateTime delta", delta)
	if err != nil {
		return None, err
	}
	return m.formatTime(addSeconds(time.Now().In(loc), d), format)
}

func (m *Machine) getTimeStamp(date, format, delta Value) (Value, error) {
	s, err := m.toStr(date)
	if err != nil {
		return None, err
	}
	f, err := m.toStr(format)
	if err != nil {
		return None, err
	}
	d, err := m.numArg("getTimeStamp delta", delta)
	if err != nil {
		return None, err
	}
	t, err := pytime.Parse(s, f, m.defaultLocation())
	if err != nil {
		return None, m.errorf("getTimeStamp: %v", err)
	}
	t = addSeconds(t, d)
	return Float(float64(t.UnixNano()) / 1e9), nil
}

func (m *Machine) stampToDatetime(ts, format, delta Value) (Value, error) {
	sec, err := m.numArg("stampToDatetime timestamp", ts)
	if err != nil {
		return None, err
	}
	d, err := m.numArg("stampToDatetime delta", delta)
	if err != nil {
		return None, err
	}
	sec += d
	if sec != sec || math.Abs(sec) > 1e14 {
		return None, m.errorf("stampToDatetime: timestamp out of range")
	}
	whole, frac := math.Modf(sec)
	t := time.Unix(int64(whole), int64(frac*1e9)).In(m.defaultLocation())
	return m.formatTime(t, format)
}

// ---------------------------------------------------------------------------
// if() comparison mode (Part A #2-#4)

// normalise turns numeric text into a number, as the comparison mode of
// if() does with its operands.
func normalise(v Value) Value {
	if v.k != KindString {
		return v
	}
	s := trimSpace(v.str())
	if s == "" {
		return v
	}
	if isDigits(strings.TrimLeft(s, "+-")) && len(s)-len(strings.TrimLeft(s, "+-")) <= 1 {
		var m Machine
		if r, err := m.builtinInt(String(s)); err == nil {
			return r
		}
	}
	if isDecimal(s) {
		if f, ok := parsePyFloat(s); ok {
			return Float(f)
		}
	}
	return v
}

// avapCompare evaluates if(x, y, op) in comparison mode.
func (m *Machine) avapCompare(op compile.Comparator, x, y Value) (bool, error) {
	x, y = defined(x), defined(y)
	if op == compile.CmpIn {
		switch y.k {
		case KindString:
			if x.k != KindString {
				s, err := m.toStr(x)
				if err != nil {
					return false, err
				}
				x = String(s)
			}
		case KindNone:
			return false, nil
		}
		return m.contains(x, y)
	}
	nx, ny := normalise(x), normalise(y)
	if op == compile.CmpEq || op == compile.CmpNe {
		var eq bool
		switch {
		case x.k == KindNone || y.k == KindNone:
			eq = x.k == y.k ||
				x.k == KindString && x.str() == "None" ||
				y.k == KindString && y.str() == "None"
		case isNumeric(nx) && isNumeric(ny):
			eq = numFloat(nx) == numFloat(ny)
			if nx.k != KindFloat && ny.k != KindFloat {
				eq = nx.n == ny.n
			}
		case x.k == KindList || x.k == KindDict || y.k == KindList || y.k == KindDict:
			var err error
			if eq, err = m.equal(x, y, 0); err != nil {
				return false, err
			}
		default:
			a, err := m.toStr(x)
			if err != nil {
				return false, err
			}
			b, err := m.toStr(y)
			if err != nil {
				return false, err
			}
			eq = a == b
		}
		return eq == (op == compile.CmpEq), nil
	}
	if !(isNumeric(nx) && isNumeric(ny)) && !(nx.k == KindString && ny.k == KindString) {
		return false, m.errorf("if(): cannot compare %s and %s with %s", typeName(x), typeName(y), op)
	}
	c, err := m.compare(op.String(), nx, ny, 0)
	if err != nil {
		return false, err
	}
	if c == 2 {
		return false, nil
	}
	switch op {
	case compile.CmpLt:
		return c < 0, nil
	case compile.CmpGt:
		return c > 0, nil
	case compile.CmpLe:
		return c <= 0, nil
	case compile.CmpGe:
		return c >= 0, nil
	}
	return false, nil
}
