package compile

import "github.com/avapmesh/avap/vm/syntax"

// methodCall compiles `x.name(args...)`, a method call on a value such as
// a connector object (`db = avapConnector("main")` then
// `rows = db.query(sql, a, b)`): it pushes the method name, the receiver
// and the arguments (Value parameters) and emits CMD CmdMethod, which the
// machine hands to the Host as command ".name" with the receiver first.
// It reports false when call is not of that form.
func (fs *fstate) methodCall(call *syntax.CallExpr) bool {
	at, ok := call.Fun.(*syntax.AttrExpr)
	if !ok || at.Name == nil || at.X == nil {
		return false
	}
	fs.c.prog.Host = true
	fs.c.calls["."+at.Name.Name] = true
	fs.emitConst(Const{Kind: ConstString, Str: at.Name.Name})
	fs.expr(at.X)
	for _, a := range call.Args {
		fs.valueArg(a)
	}
	fs.emit(CMD, CmdMethod, uint32(2+len(call.Args)))
	return true
}
