package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// discoveryQuiet ends a discovery early once no reply came for this long
// after the last one.
const discoveryQuiet = 40 * time.Millisecond

// Discover sends the micro discovery request verb ("PING", "INFO" or
// "STATS") for service and returns the raw JSON replies that arrive within
// wait (ending early once replies stop coming), one per service instance.
// It is meant for /api/v1/info and tools, not for the request path.
func Discover(ctx context.Context, nc *nats.Conn, verb, service string, wait time.Duration) ([][]byte, error) {
	subj, err := DiscoverySubject(verb, service)
	if err != nil {
		return nil, err
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(subj, inbox, nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var out [][]byte
	for {
		wctx := ctx
		var c2 context.CancelFunc = func() {}
		if len(out) > 0 {
			wctx, c2 = context.WithTimeout(ctx, discoveryQuiet)
		}
		msg, err := sub.NextMsgWithContext(wctx)
		c2()
		if err != nil {
			return out, nil
		}
		out = append(out, msg.Data)
	}
}
