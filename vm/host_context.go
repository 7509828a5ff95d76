package vm

import "context"

// hostMachineKey keys the running machine in the context of a Host call.
type hostMachineKey struct{}

// Variable returns the value of the variable name as the script sees it at
// the Host call in progress: the local of the calling function when it is
// set there, else the global. ok is false when ctx is not the context of a
// Host call or the variable is not set. Host commands whose arguments name
// variables (ormAccessInsert's "A,B" list of value variables) read them
// with it; it must be called before Call returns, on its goroutine.
func Variable(ctx context.Context, name string) (v Value, ok bool) {
	m, _ := ctx.Value(hostMachineKey{}).(*Machine)
	if m == nil || m.prog == nil {
		return None, false
	}
	return m.lookupVar(name)
}

func (m *Machine) lookupVar(name string) (Value, bool) {
	if n := len(m.frames); n > 0 {
		if f := m.frames[n-1]; f.fn != nil {
			for i, ln := range f.fn.LocalNames {
				if ln == name && f.base+i < len(m.stack) {
					if v := m.stack[f.base+i]; v.k != kindUndef {
						return v, true
					}
					break
				}
			}
		}
	}
	if i := m.slot(name, false); i >= 0 && i < len(m.globals) {
		if v := m.globals[i]; v.k != kindUndef {
			return v, true
		}
	}
	return None, false
}

// methodCall runs `x.name(args...)` (CMD CmdMethod: name, receiver,
// args...) as the Host command ".name" with the receiver first.
func (m *Machine) methodCall(args []Value) (Value, error) {
	if len(args) < 2 || args[0].k != KindString {
		return None, m.errorf("bad method call")
	}
	return m.hostCall("."+args[0].str(), args[1:])
}
