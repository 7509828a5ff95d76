package executor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
)

// compileResult is the result object of a successful compile.
type compileResult struct {
	Name           string   `json:"name"`
	Hash           string   `json:"hash"`
	Revision       uint64   `json:"revision"`
	Commands       []string `json:"commands"`
	SideEffectFree bool     `json:"side_effect_free"`
}

// handleCompile compiles a named script and stores it (bus.CompileSubject).
// Compiling is quick and rare, so it runs on the subscription goroutine.
func (e *Executor) handleCompile(r micro.Request) {
	var req bus.Request
	var rep bus.Reply
	rep.ExecutorID = e.id
	if err := req.UnmarshalMsgpack(r.Data()); err != nil {
		fail(&rep, bus.CodeBadRequest, err.Error())
	} else {
		e.compileAndStore(&req, &rep)
	}
	if rep.Success {
		_ = r.Respond(rep.AppendMsgpack(nil))
		return
	}
	info, _ := bus.Lookup(rep.Code)
	_ = r.Error(strconv.Itoa(info.Num), rep.Error, rep.AppendMsgpack(nil),
		micro.WithHeaders(micro.Headers{bus.HeaderCode: {string(rep.Code)}}))
}

func (e *Executor) compileAndStore(req *bus.Request, rep *bus.Reply) {
	if err := ValidCommandName(req.Name); err != nil {
		fail(rep, bus.CodeBadRequest, err.Error())
		return
	}
	if req.Script == "" {
		fail(rep, bus.CodeBadRequest, "script is empty")
		return
	}
	prog, _, err := e.progs.get(req.Name+".avap", req.Script)
	if err != nil {
		compileFailure(rep, err)
		return
	}
	ctx, cancel := context.WithTimeout(e.runCtx, 5*time.Second)
	defer cancel()
	if dl, ok := req.Deadline(); ok {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadline(ctx, dl)
		defer c2()
	}
	rev, err := e.store.Put(ctx, req.Name, []byte(req.Script))
	if err != nil {
		fail(rep, bus.CodeInternal, "store command: "+err.Error())
		return
	}
	e.named.Store(req.Name, namedEntry{rev: rev, prog: prog})
	h := prog.Hash()
	cmds := prog.Commands()
	if cmds == nil {
		cmds = []string{}
	}
	res, _ := json.Marshal(compileResult{Name: req.Name, Hash: hex.EncodeToString(h[:]), Revision: rev,
		Commands: cmds, SideEffectFree: prog.SideEffectFree()})
	rep.Success = true
	rep.Result = res
	rep.SideEffectFree = prog.SideEffectFree()
}
