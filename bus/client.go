package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Call sends req to subject over nc's shared response subscription (no
// subscription per request) and decodes the answer into rep. The request
// carries ctx's deadline in the envelope (DeadlineUnixNano) and the
// context's traceparent, if any, in HeaderTraceparent; buf, if not nil, is
// reused to encode the request.
//
// The request id and deadline are not repeated in NATS headers: they are in
// the envelope, and a message without headers is cheaper for every hop
// (no header map to build, encode, parse and decode per request).
//
// A reply that decodes is returned with a nil error even when it reports a
// failed run (check rep.Success). Call returns an *Error with
// CodeNoExecutor when no executor listens, CodeTimeout when ctx's deadline
// passes first, CodeCanceled when ctx is canceled, and CodeInternal for a
// reply that does not decode.
func Call(ctx context.Context, nc *nats.Conn, subject string, req *Request, rep *Reply, buf []byte) error {
	if dl, ok := ctx.Deadline(); ok && req.DeadlineUnixNano == 0 {
		req.DeadlineUnixNano = dl.UnixNano()
	}
	msg := nats.Msg{Subject: subject, Data: req.AppendMsgpack(buf[:0])}
	setTraceparent(ctx, &msg)
	resp, err := nc.RequestMsgWithContext(ctx, &msg)
	if err != nil {
		return callError(ctx, err)
	}
	return decodeReply(subject, resp, rep)
}

// CallWait is Call bounded by wait instead of by a context deadline: the
// request carries now+wait as its deadline, and the reply is awaited at most
// wait. When ctx cannot be canceled (ctx.Done() is nil, as for a Fiber
// handler's user context) it needs no context of its own and uses the
// pooled timers of nats.go's Request, which is the cheaper hot path; else
// it is Call with a derived deadline.
func CallWait(ctx context.Context, nc *nats.Conn, subject string, req *Request, rep *Reply, buf []byte, wait time.Duration) error {
	if ctx.Done() != nil {
		cctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		return Call(cctx, nc, subject, req, rep, buf)
	}
	if req.DeadlineUnixNano == 0 {
		req.DeadlineUnixNano = time.Now().Add(wait).UnixNano()
	}
	msg := nats.Msg{Subject: subject, Data: req.AppendMsgpack(buf[:0])}
	setTraceparent(ctx, &msg)
	resp, err := nc.RequestMsg(&msg, wait)
	if err != nil {
		return callError(ctx, err)
	}
	return decodeReply(subject, resp, rep)
}

func setTraceparent(ctx context.Context, msg *nats.Msg) {
	if tp, ok := ctx.Value(traceparentKey{}).(string); ok && tp != "" {
		msg.Header = nats.Header{HeaderTraceparent: []string{tp}}
	}
}

func decodeReply(subject string, resp *nats.Msg, rep *Reply) error {
	if err := rep.UnmarshalMsgpack(resp.Data); err != nil {
		return NewError(CodeInternal, fmt.Sprintf("bad reply from %s: %v", subject, err))
	}
	return nil
}

func callError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return NewError(CodeNoExecutor, "")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return NewError(CodeTimeout, "no reply from an executor before the deadline")
	case errors.Is(err, context.Canceled):
		return NewError(CodeCanceled, "request canceled")
	case ctx.Err() != nil:
		return NewError(CodeCanceled, ctx.Err().Error())
	}
	return NewError(CodeInternal, err.Error())
}

type traceparentKey struct{}

// WithTraceparent returns a context whose Calls carry the W3C traceparent tp.
func WithTraceparent(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, traceparentKey{}, tp)
}
