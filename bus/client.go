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
// carries ctx's deadline, in the envelope and in HeaderDeadline; buf, if
// not nil, is reused to encode the request.
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
	msg := nats.Msg{Subject: subject, Data: req.AppendMsgpack(buf[:0]), Header: make(nats.Header, 2)}
	if req.ID != "" {
		msg.Header[HeaderRequestID] = []string{req.ID}
	}
	if req.DeadlineUnixNano > 0 {
		msg.Header[HeaderDeadline] = []string{FormatDeadline(time.Unix(0, req.DeadlineUnixNano))}
	}
	if tp, ok := ctx.Value(traceparentKey{}).(string); ok && tp != "" {
		msg.Header[HeaderTraceparent] = []string{tp}
	}
	resp, err := nc.RequestMsgWithContext(ctx, &msg)
	if err != nil {
		return callError(ctx, err)
	}
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
