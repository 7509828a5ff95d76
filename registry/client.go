package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
)

// Client calls the registry service over NATS (the CLI, and L3 of Cache).
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
	guard   func(call func() error) error // CacheOptions.Guard; or nil
}

// NewClient returns a client; timeout bounds each call when ctx has no
// deadline (0 = 5s).
func NewClient(nc *nats.Conn, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Client{nc: nc, timeout: timeout}
}

func (c *Client) call(ctx context.Context, op string, req, out any) error {
	if c.guard != nil {
		return c.guard(func() error { return c.call1(ctx, op, req, out) })
	}
	return c.call1(ctx, op, req, out)
}

func (c *Client) call1(ctx context.Context, op string, req, out any) error {
	subj, err := bus.RegistrySubject(op)
	if err != nil {
		return err
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	msg, err := c.nc.RequestWithContext(ctx, subj, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
		}
		return fmt.Errorf("registry %s: %w", op, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return remoteError(code, msg.Header.Get(micro.ErrorHeader))
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("registry %s: decode reply: %w", op, err)
	}
	return nil
}

// Publish publishes a signed envelope.
func (c *Client) Publish(ctx context.Context, envelope []byte) (Entry, error) {
	var e Entry
	err := c.call(ctx, "publish", PublishRequest{Envelope: envelope}, &e)
	return e, err
}

// PublishScript asks the registry to build, sign and publish a script.
func (c *Client) PublishScript(ctx context.Context, sr ScriptRequest) (Entry, error) {
	var e Entry
	err := c.call(ctx, "publish", PublishRequest{Script: &sr}, &e)
	return e, err
}

// Get fetches name@version (version may be a range or "" for the latest).
func (c *Client) Get(ctx context.Context, name, version string) (*Record, error) {
	var r Record
	err := c.call(ctx, "get", GetRequest{Name: name, Version: version}, &r)
	return &r, err
}

// GetByHash fetches the package with content hash.
func (c *Client) GetByHash(ctx context.Context, hash string) (*Record, error) {
	var r Record
	err := c.call(ctx, "get", GetRequest{Hash: hash}, &r)
	return &r, err
}

// List returns the catalogue entries of name ("" = all).
func (c *Client) List(ctx context.Context, name string) (ListReply, error) {
	var l ListReply
	err := c.call(ctx, "list", ListRequest{Name: name}, &l)
	return l, err
}

// Sync returns the entries changed after revision since.
func (c *Client) Sync(ctx context.Context, since int64) (ListReply, error) {
	var l ListReply
	err := c.call(ctx, "sync", SyncRequest{Since: since}, &l)
	return l, err
}

// SetStatus deprecates, revokes or reactivates name@version.
func (c *Client) SetStatus(ctx context.Context, name, version, status, reason string) (Entry, error) {
	op := map[string]string{StatusDeprecated: "deprecate", StatusRevoked: "revoke", StatusActive: "activate"}[status]
	if op == "" {
		return Entry{}, fmt.Errorf("%w: status %q", ErrInvalid, status)
	}
	var e Entry
	err := c.call(ctx, op, StatusRequest{Name: name, Version: version, Reason: reason}, &e)
	return e, err
}
