package vm

import (
	"github.com/avapmesh/avap/vm/internal/compile"
)

// exec runs the frames on m.frames until the top level returns. It
// returns an *EvalError for an uncaught error.
//
// The loop keeps the hot state (code, pc, stack pointer, step counter) in
// local variables and writes it back to the frame only where an error, a
// call or a command may need it. Every case that cannot fail ends with
// continue; failing cases set err and break out of the switch to the error
// path at the bottom of the loop.
func (m *Machine) exec() (result error) {
	var (
		fr      = &m.frames[len(m.frames)-1]
		fn      = fr.fn
		code    = fn.Code
		pc      = fr.pc
		base    = fr.base
		sp      = base + fn.NumLocals
		stack   = m.stack
		consts  = m.prog.consts
		globals = m.globals
		steps   = m.steps
		limit   = min(m.stepCap, m.nextCheck)
		err     error
	)
	for i := base + m.entryArgs; i < sp; i++ { // a task's arguments are in place
		stack[i] = undef
	}

	for {
		if steps >= limit || m.cancel.Load() != nil {
			fr.pc = pc
			if err = m.interrupt(steps); err != nil {
				pc++ // report the position of the instruction about to run
				goto fail
			}
			limit = min(m.stepCap, m.nextCheck)
		}
		steps++
		{
			ins := code[pc]
			pc++
			switch ins.Op() {
			case compile.NOP:
				continue
			case compile.CONST:
				stack[sp] = consts[ins.A()]
				sp++
				continue
			case compile.NONE:
				stack[sp] = None
				sp++
				continue
			case compile.TRUE:
				stack[sp] = Value{k: KindBool, n: 1}
				sp++
				continue
			case compile.FALSE:
				stack[sp] = Value{k: KindBool}
				sp++
				continue
			case compile.SMALL:
				stack[sp] = Int(int64(int32(ins.B())))
				sp++
				continue
			case compile.POP:
				sp--
				continue
			case compile.DUP:
				stack[sp] = stack[sp-1]
				sp++
				continue
			case compile.LOADL:
				v := stack[base+int(ins.A())]
				if v.k == kindUndef {
					if v, err = m.fallback(fn, ins.A(), globals, false); err != nil {
						break
					}
				}
				stack[sp] = v
				sp++
				continue
			case compile.STOREL:
				sp--
				stack[base+int(ins.A())] = stack[sp]
				continue
			case compile.LOADG:
				v := globals[ins.A()]
				if v.k == kindUndef {
					err = m.errorf("name '%s' is not defined", m.globalName(int(ins.A())))
					break
				}
				stack[sp] = v
				sp++
				continue
			case compile.STOREG:
				sp--
				a := ins.A()
				if globals[a].k == kindUndef {
					m.order = append(m.order, int32(a))
				}
				globals[a] = stack[sp]
				continue
			case compile.OPTL:
				v := stack[base+int(ins.A())]
				if v.k == kindUndef {
					v, _ = m.fallback(fn, ins.A(), globals, true)
				}
				stack[sp] = v
				sp++
				continue
			case compile.OPTG:
				stack[sp] = globals[ins.A()]
				sp++
				continue
			case compile.ORTEXT:
				if stack[sp-1].k == kindUndef {
					stack[sp-1] = consts[ins.A()]
				}
				continue
			case compile.LOADTMP:
				stack[sp] = stack[base+int(ins.A())]
				sp++
				continue

			case compile.ADD:
				x, y := stack[sp-2], stack[sp-1]
				if x.k == KindInt && y.k == KindInt {
					r := int64(x.n) + int64(y.n)
					if (r^int64(x.n))&(r^int64(y.n)) >= 0 {
						sp--
						stack[sp-1] = Value{k: KindInt, n: uint64(r)}
						continue
					}
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				sp--
				stack[sp-1] = v
				continue
			case compile.SUB:
				x, y := stack[sp-2], stack[sp-1]
				if x.k == KindInt && y.k == KindInt {
					r := int64(x.n) - int64(y.n)
					if (int64(x.n)^int64(y.n))&(r^int64(x.n)) >= 0 {
						sp--
						stack[sp-1] = Value{k: KindInt, n: uint64(r)}
						continue
					}
				}
				var v Value
				if v, err = m.binary('-', x, y); err != nil {
					break
				}
				sp--
				stack[sp-1] = v
				continue
			case compile.MUL, compile.DIV, compile.MOD, compile.POW, compile.BAND, compile.BOR,
				compile.BXOR, compile.SHL, compile.SHR:
				var v Value
				if v, err = m.binary(binOpChar[ins.Op()], stack[sp-2], stack[sp-1]); err != nil {
					break
				}
				sp--
				stack[sp-1] = v
				continue
			case compile.EQ, compile.NE:
				x, y := stack[sp-2], stack[sp-1]
				var eq bool
				if x.k == y.k && (x.k == KindInt || x.k == KindBool || x.k == KindNone) {
					eq = x.n == y.n
				} else if eq, err = m.equal(x, y, 0); err != nil {
					break
				}
				sp--
				stack[sp-1] = Bool(eq == (ins.Op() == compile.EQ))
				continue
			case compile.LT, compile.LE, compile.GT, compile.GE:
				x, y := stack[sp-2], stack[sp-1]
				var c int
				if x.k == KindInt && y.k == KindInt {
					a, b := int64(x.n), int64(y.n)
					if a < b {
						c = -1
					} else if a > b {
						c = 1
					}
				} else if c, err = m.compare(cmpSymbol[ins.Op()], x, y, 0); err != nil {
					break
				}
				sp--
				stack[sp-1] = Bool(orderHolds(ins.Op(), c))
				continue
			case compile.IN, compile.NOTIN:
				var in bool
				if in, err = m.contains(stack[sp-2], stack[sp-1]); err != nil {
					break
				}
				sp--
				stack[sp-1] = Bool(in == (ins.Op() == compile.IN))
				continue
			case compile.IS, compile.ISNOT:
				x, y := stack[sp-2], stack[sp-1]
				same := x.k == y.k && x.n == y.n && x.p == y.p
				sp--
				stack[sp-1] = Bool(same == (ins.Op() == compile.IS))
				continue
			case compile.NEG, compile.POS, compile.INVERT:
				var v Value
				if v, err = m.unary(unOpChar[ins.Op()], stack[sp-1]); err != nil {
					break
				}
				stack[sp-1] = v
				continue
			case compile.NOT:
				stack[sp-1] = Bool(!truth(stack[sp-1]))
				continue
			case compile.CMP:
				var ok bool
				if ok, err = m.avapCompare(compile.Comparator(ins.A()), stack[sp-2], stack[sp-1]); err != nil {
					break
				}
				sp--
				stack[sp-1] = Bool(ok)
				continue

			case compile.JUMP:
				pc = int(ins.B())
				continue
			case compile.JUMPF:
				sp--
				if v := stack[sp]; v.k == KindBool {
					if v.n == 0 {
						pc = int(ins.B())
					}
				} else if !truth(v) {
					pc = int(ins.B())
				}
				continue
			case compile.JUMPT:
				sp--
				if truth(stack[sp]) {
					pc = int(ins.B())
				}
				continue
			case compile.JUMPFKEEP:
				if !truth(stack[sp-1]) {
					pc = int(ins.B())
				} else {
					sp--
				}
				continue
			case compile.JUMPTKEEP:
				if truth(stack[sp-1]) {
					pc = int(ins.B())
				} else {
					sp--
				}
				continue

			case compile.LIST:
				n := int(ins.A())
				if err = m.chargeList(n); err != nil {
					break
				}
				el := make([]Value, n)
				copy(el, stack[sp-n:sp])
				sp -= n
				stack[sp] = listValue(&list{elems: el, tuple: ins.B() == 1})
				sp++
				continue
			case compile.DICT:
				n := int(ins.A())
				var v Value
				if v, err = m.makeDict(stack[sp-2*n : sp]); err != nil {
					break
				}
				sp -= 2 * n
				stack[sp] = v
				sp++
				continue
			case compile.INDEX:
				var v Value
				if v, err = m.index(stack[sp-2], stack[sp-1]); err != nil {
					break
				}
				sp--
				stack[sp-1] = v
				continue
			case compile.SLICE:
				mask := ins.A()
				parts := [3]Value{}
				for i := 2; i >= 0; i-- {
					if mask&(1<<i) != 0 {
						sp--
						parts[i] = stack[sp]
					}
				}
				var v Value
				if v, err = m.slice(stack[sp-1], parts[0], parts[1], parts[2]); err != nil {
					break
				}
				stack[sp-1] = v
				continue
			case compile.ATTR:
				var v Value
				if v, err = m.attr(stack[sp-1], consts[ins.A()].str()); err != nil {
					break
				}
				stack[sp-1] = v
				continue

			case compile.CALL:
				callee := m.prog.funcs[ins.A()]
				nargs := int(ins.B())
				if len(m.frames) >= m.lim.MaxCallDepth {
					err = fatal(ErrCallDepth)
					break
				}
				nb := sp - nargs
				if nargs > callee.NumParams {
					nargs = callee.NumParams
				}
				need := nb + callee.NumLocals + callee.MaxStack
				if need > len(stack) {
					if need > maxStack {
						err = fatal(ErrCallDepth)
						break
					}
					grow := need + len(stack)
					if err = m.charge(int64(grow) * valueSize); err != nil {
						break
					}
					m.stack = append(m.stack[:len(m.stack)], make([]Value, grow)...)
					m.stack = m.stack[:cap(m.stack)]
					stack = m.stack
				}
				for i := nb + nargs; i < nb+callee.NumLocals; i++ {
					stack[i] = undef
				}
				fr.pc = pc
				m.frames = append(m.frames, frame{fn: callee, fi: int(ins.A()), base: nb})
				fr = &m.frames[len(m.frames)-1]
				fn, code, pc, base = callee, callee.Code, 0, nb
				sp = nb + callee.NumLocals
				continue
			case compile.RETURN:
				v := stack[sp-1]
				depth := len(m.frames) - 1
				for len(m.handlers) > 0 && m.handlers[len(m.handlers)-1].frame >= depth {
					m.handlers = m.handlers[:len(m.handlers)-1]
				}
				if depth == 0 {
					fr.pc = pc
					m.steps = steps
					m.retVal = v
					return nil
				}
				sp = base
				m.frames = m.frames[:depth]
				fr = &m.frames[depth-1]
				fn, code, pc, base = fr.fn, fr.fn.Code, fr.pc, fr.base
				stack[sp] = v
				sp++
				continue
			case compile.BUILTIN:
				fr.pc = pc
				n := int(ins.B())
				var v Value
				if v, err = m.builtin(compile.Builtin(ins.A()), stack[sp-n:sp]); err != nil {
					break
				}
				sp -= n
				stack[sp] = v
				sp++
				continue
			case compile.CMD:
				fr.pc = pc
				m.steps = steps // for a gather or an inline task that starts sharing the budgets
				n := int(ins.B())
				var v Value
				if v, err = m.command(int(ins.A()), stack[sp-n:sp]); err != nil {
					break
				}
				sp -= n
				stack[sp] = v
				sp++
				globals = m.globals // commands may add global slots
				limit = min(m.stepCap, m.nextCheck)
				continue
			case opSpawn: // go_async / go(): start a task (async.go)
				fr.pc = pc
				m.steps = steps
				n := int(ins.B())
				var v Value
				if v, err = m.spawn(int(ins.A()), stack[sp-n:sp]); err != nil {
					break
				}
				sp -= n
				stack[sp] = v
				sp++
				limit = min(m.stepCap, m.nextCheck) // the run's steps are now shared
				continue
			case compile.UNKNOWN:
				err = &runtimeError{msg: "command not found: " + consts[ins.A()].str(), cause: ErrUnknownCommand}
			case compile.FAIL:
				err = &runtimeError{msg: consts[ins.A()].str(), cause: ErrNotAvailable}
			case compile.TMPL:
				n := int(ins.A())
				var v Value
				if v, err = m.template(stack[sp-n : sp]); err != nil {
					break
				}
				sp -= n
				stack[sp] = v
				sp++
				continue

			case compile.FORPREP:
				var from, to int64
				if from, err = m.loopBound(stack[sp-2]); err != nil {
					break
				}
				if to, err = m.loopBound(stack[sp-1]); err != nil {
					break
				}
				sp -= 2
				a := base + int(ins.A())
				stack[a] = Value{k: KindInt, n: uint64(from)}
				stack[a+1] = Value{k: KindInt, n: uint64(to)}
				if from > to {
					pc = int(ins.B())
				}
				continue
			case compile.FORNEXT:
				a := base + int(ins.A())
				c := int64(stack[a].n)
				if c < int64(stack[a+1].n) {
					stack[a].n = uint64(c + 1)
					pc = int(ins.B())
				}
				continue
			case compile.FORSETL:
				stack[base+int(ins.A())] = stack[base+int(ins.B())]
				continue
			case compile.FORSETG:
				a := ins.A()
				if globals[a].k == kindUndef {
					m.order = append(m.order, int32(a))
				}
				globals[a] = stack[base+int(ins.B())]
				continue

			case compile.TRY:
				m.handlers = append(m.handlers, handler{frame: len(m.frames) - 1, sp: sp, pc: int(ins.B())})
				continue
			case compile.ENDTRY:
				m.handlers = m.handlers[:len(m.handlers)-1]
				continue
			case compile.ERRMSG:
				stack[sp] = String(m.errMsg)
				sp++
				continue
			case compile.LOCALS:
				var v Value
				if v, err = m.locals(fn, stack[base:base+fn.NumLocals], globals); err != nil {
					break
				}
				stack[sp] = v
				sp++
				continue
			case compile.RESULT:
				sp--
				if err = m.addResult(consts[ins.A()].str(), stack[sp]); err != nil {
					break
				}
				continue

			case compile.ADDLK, compile.SUBLK:
				x := stack[base+int(ins.A())]
				y := consts[ins.B()]
				if x.k == KindInt && y.k == KindInt {
					var r int64
					var ok bool
					if ins.Op() == compile.ADDLK {
						r, ok = addInt(int64(x.n), int64(y.n))
					} else {
						r, ok = subInt(int64(x.n), int64(y.n))
					}
					if ok {
						stack[sp] = Value{k: KindInt, n: uint64(r)}
						sp++
						continue
					}
				}
				if x.k == kindUndef {
					if x, err = m.fallback(fn, ins.A(), globals, false); err != nil {
						break
					}
				}
				op := byte('+')
				if ins.Op() == compile.SUBLK {
					op = '-'
				}
				var v Value
				if v, err = m.binary(op, x, y); err != nil {
					break
				}
				stack[sp] = v
				sp++
				continue
			case compile.ADDLL:
				x, y := stack[base+int(ins.A())], stack[base+int(ins.B())]
				if x.k == KindInt && y.k == KindInt {
					if r, ok := addInt(int64(x.n), int64(y.n)); ok {
						stack[sp] = Value{k: KindInt, n: uint64(r)}
						sp++
						continue
					}
				}
				if x.k == kindUndef {
					if x, err = m.fallback(fn, ins.A(), globals, false); err != nil {
						break
					}
				}
				if y.k == kindUndef {
					if y, err = m.fallback(fn, ins.B(), globals, false); err != nil {
						break
					}
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				stack[sp] = v
				sp++
				continue
			case compile.ADDGG:
				x, y := globals[ins.A()], globals[ins.B()]
				if x.k == KindInt && y.k == KindInt {
					if r, ok := addInt(int64(x.n), int64(y.n)); ok {
						stack[sp] = Value{k: KindInt, n: uint64(r)}
						sp++
						continue
					}
				}
				if x.k == kindUndef {
					err = m.errorf("name '%s' is not defined", m.globalName(int(ins.A())))
					break
				}
				if y.k == kindUndef {
					err = m.errorf("name '%s' is not defined", m.globalName(int(ins.B())))
					break
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				stack[sp] = v
				sp++
				continue
			case compile.INCG:
				a := ins.A()
				x, y := globals[a], consts[ins.B()]
				if x.k == KindInt && y.k == KindInt {
					if r, ok := addInt(int64(x.n), int64(y.n)); ok {
						globals[a].n = uint64(r)
						continue
					}
				}
				if x.k == kindUndef {
					err = m.errorf("name '%s' is not defined", m.globalName(int(a)))
					break
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				globals[a] = v
				continue
			case compile.INCGG:
				a := ins.A()
				x, y := globals[a], globals[ins.B()]
				if x.k == KindInt && y.k == KindInt {
					if r, ok := addInt(int64(x.n), int64(y.n)); ok {
						globals[a].n = uint64(r)
						continue
					}
				}
				if x.k == kindUndef {
					err = m.errorf("name '%s' is not defined", m.globalName(int(a)))
					break
				}
				if y.k == kindUndef {
					err = m.errorf("name '%s' is not defined", m.globalName(int(ins.B())))
					break
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				globals[a] = v
				continue
			case compile.INCLL:
				a := base + int(ins.A())
				x, y := stack[a], stack[base+int(ins.B())]
				if x.k == KindInt && y.k == KindInt {
					if r, ok := addInt(int64(x.n), int64(y.n)); ok {
						stack[a].n = uint64(r)
						continue
					}
				}
				if x.k == kindUndef {
					if x, err = m.fallback(fn, ins.A(), globals, false); err != nil {
						break
					}
				}
				if y.k == kindUndef {
					if y, err = m.fallback(fn, ins.B(), globals, false); err != nil {
						break
					}
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				stack[a] = v
				continue
			case compile.INCL:
				a := base + int(ins.A())
				x, y := stack[a], consts[ins.B()]
				if x.k == KindInt && y.k == KindInt {
					if r, ok := addInt(int64(x.n), int64(y.n)); ok {
						stack[a].n = uint64(r)
						continue
					}
				}
				if x.k == kindUndef {
					if x, err = m.fallback(fn, ins.A(), globals, false); err != nil {
						break
					}
				}
				var v Value
				if v, err = m.binary('+', x, y); err != nil {
					break
				}
				stack[a] = v
				continue
			case compile.ADDSTG, compile.ADDSTL:
				x, y := stack[sp-2], stack[sp-1]
				var v Value
				if x.k == KindInt && y.k == KindInt {
					r, ok := addInt(int64(x.n), int64(y.n))
					if !ok {
						err = m.overflow()
						break
					}
					v = Value{k: KindInt, n: uint64(r)}
				} else if v, err = m.binary('+', x, y); err != nil {
					break
				}
				sp -= 2
				if ins.Op() == compile.ADDSTL {
					stack[base+int(ins.A())] = v
					continue
				}
				a := ins.A()
				if globals[a].k == kindUndef {
					m.order = append(m.order, int32(a))
				}
				globals[a] = v
				continue
			case compile.CMPLK, compile.CMPGK:
				var x Value
				if ins.Op() == compile.CMPLK {
					if x = stack[base+int(ins.A())]; x.k == kindUndef {
						if x, _ = m.fallback(fn, ins.A(), globals, true); x.k == kindUndef {
							x = String(fn.LocalNames[ins.A()])
						}
					}
				} else if x = globals[ins.A()]; x.k == kindUndef {
					x = String(m.globalName(int(ins.A())))
				}
				y := consts[ins.B()&0xFFFFFF]
				cmp := compile.Comparator(ins.B() >> 24)
				if x.k == KindInt && y.k == KindInt {
					stack[sp] = Bool(intCmp(cmp, int64(x.n), int64(y.n)))
					sp++
					continue
				}
				var ok bool
				if ok, err = m.avapCompare(cmp, x, y); err != nil {
					break
				}
				stack[sp] = Bool(ok)
				sp++
				continue
			default:
				err = m.errorf("internal error: bad opcode %v", ins.Op())
			}
		}
	fail:
		// Error path: pc is one past the failing instruction.
		fr.pc = pc
		if h, ok := m.catch(err); ok {
			globals = m.globals
			// Unwind to the handler's frame.
			m.frames = m.frames[:h.frame+1]
			fr = &m.frames[h.frame]
			fn, code, base = fr.fn, fr.fn.Code, fr.base
			pc, sp = h.pc, h.sp
			err = nil
			limit = min(m.stepCap, m.nextCheck) // a failed command may have given steps back (yieldSteps)
			continue
		}
		m.steps = steps
		return m.evalError(err, fn.PosAt(pc-1))
	}
}

// locals returns the named, set locals of a frame as a dict (the
// variables of a go_async block).
func (m *Machine) locals(fn *compile.Func, slots []Value, globals []Value) (Value, error) {
	if err := m.charge(int64(len(slots))*64 + 64); err != nil {
		return None, err
	}
	d := newDict(len(slots))
	for i, v := range slots {
		if name := fn.LocalNames[i]; name != "" && v.k != kindUndef {
			d.set(name, v)
		}
	}
	return dictValue(d), nil
}

// maxStack bounds the value stack (slots), whatever the call depth.
const maxStack = 1 << 22

var binOpChar = [...]byte{
	compile.MUL: '*', compile.DIV: '/', compile.MOD: '%', compile.POW: 'p',
	compile.BAND: '&', compile.BOR: '|', compile.BXOR: '^', compile.SHL: 'l', compile.SHR: 'r',
}

var unOpChar = [...]byte{compile.NEG: '-', compile.POS: '+', compile.INVERT: '~'}

var cmpSymbol = [...]string{compile.LT: "<", compile.LE: "<=", compile.GT: ">", compile.GE: ">="}

func orderHolds(op compile.Op, c int) bool {
	if c == 2 { // unordered (NaN)
		return false
	}
	switch op {
	case compile.LT:
		return c < 0
	case compile.LE:
		return c <= 0
	case compile.GT:
		return c > 0
	}
	return c >= 0
}

func intCmp(c compile.Comparator, a, b int64) bool {
	switch c {
	case compile.CmpEq:
		return a == b
	case compile.CmpNe:
		return a != b
	case compile.CmpLt:
		return a < b
	case compile.CmpGt:
		return a > b
	case compile.CmpLe:
		return a <= b
	case compile.CmpGe:
		return a >= b
	}
	return false
}

// fallback reads the global a function local falls back to when unset
// (Part A #6). With opt, an unset global gives undef instead of an error.
func (m *Machine) fallback(fn *compile.Func, local uint32, globals []Value, opt bool) (Value, error) {
	g := fn.Fallback[local]
	if g != compile.NoSlot {
		if v := globals[g]; v.k != kindUndef {
			return v, nil
		}
	}
	if opt {
		return undef, nil
	}
	return None, m.errorf("name '%s' is not defined", fn.LocalNames[local])
}

// interrupt is the slow path of the per-instruction check: step limit or a
// pending cancellation.
func (m *Machine) interrupt(steps int64) error {
	if rec := m.cancel.Load(); rec != nil {
		if rec.gen == m.gen.Load() {
			return causeErr(rec.cause)
		}
		m.cancel.CompareAndSwap(rec, nil) // stale cancel of an earlier run
	}
	if steps >= m.stepCap {
		if m.sh == nil {
			return fatal(ErrStepLimit)
		}
		// A run with tasks: draw from the shared pool, in draws that double
		// from minStepChunk up to stepChunk.
		m.chunk = min(max(m.chunk, minStepChunk), stepChunk)
		a := m.sh.reserve(m.lim.MaxSteps, m.chunk)
		if a == 0 {
			return fatal(ErrStepLimit)
		}
		m.stepCap = steps + a
		m.chunk *= 2
	}
	if steps >= m.nextCheck {
		return m.checkpoint()
	}
	return nil
}

// catch pops the innermost try handler if err is catchable, recording the
// message for ERRMSG and __last_error__.
func (m *Machine) catch(err error) (handler, bool) {
	re, ok := err.(*runtimeError)
	if !ok || re.fatal || len(m.handlers) == 0 {
		return handler{}, false
	}
	h := m.handlers[len(m.handlers)-1]
	m.handlers = m.handlers[:len(m.handlers)-1]
	m.errMsg = re.msg
	m.setGlobal(m.slot("__last_error__", true), String(re.msg))
	return h, true
}

func (m *Machine) loopBound(v Value) (int64, error) {
	switch v.k {
	case KindInt, KindBool:
		return int64(v.n), nil
	case KindFloat:
		r, err := m.builtinInt(v)
		return r.i(), err
	case KindString:
		if f, ok := parsePyFloat(trimSpace(v.str())); ok {
			r, err := m.builtinInt(Float(f))
			return r.i(), err
		}
	}
	return 0, m.errorf("startLoop bound must be a number, not %s", typeName(v))
}

func (m *Machine) makeDict(kv []Value) (Value, error) {
	n := len(kv) / 2
	if err := m.charge(int64(n)*64 + 64); err != nil {
		return None, err
	}
	d := newDict(n)
	for i := 0; i < n; i++ {
		k, err := m.dictKey(kv[2*i])
		if err != nil {
			return None, err
		}
		d.set(k, kv[2*i+1])
	}
	return dictValue(d), nil
}

func (m *Machine) builtin(b compile.Builtin, args []Value) (Value, error) {
	if len(args) != 1 {
		return None, m.errorf("%s() takes exactly one argument (%d given)", compile.BuiltinName(b), len(args))
	}
	switch b {
	case compile.BuiltinStr:
		s, err := m.toStr(args[0])
		if err != nil {
			return None, err
		}
		return String(s), nil
	case compile.BuiltinInt:
		return m.builtinInt(args[0])
	case compile.BuiltinFloat:
		return m.builtinFloat(args[0])
	case compile.BuiltinLen:
		return m.builtinLen(args[0])
	}
	return None, m.errorf("unknown built-in %d", b)
}

// template concatenates the string forms of parts; undef parts (unknown
// ${name}) are empty (Part B §7.6).
func (m *Machine) template(parts []Value) (Value, error) {
	if len(parts) == 1 && parts[0].k == KindString {
		return parts[0], nil
	}
	var b []byte
	for _, p := range parts {
		switch p.k {
		case kindUndef:
		case KindString:
			b = append(b, p.str()...)
		default:
			s, err := m.toStr(p)
			if err != nil {
				return None, err
			}
			b = append(b, s...)
		}
		if int64(len(b)) > m.lim.MaxMemoryBytes {
			return None, m.memErr()
		}
	}
	if err := m.charge(int64(len(b)) + 16); err != nil {
		return None, err
	}
	return String(string(b)), nil
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
