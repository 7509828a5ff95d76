package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"
)

// DefaultReadyTimeout bounds Start when its context has no deadline.
const DefaultReadyTimeout = 10 * time.Second

// Options configures one embedded server. The zero value is a valid
// in-process server without JetStream.
type Options struct {
	Name string // server name, shown in cluster and monitoring; or "" for the server ID

	// Listen is the client address "host:port"; "" opens no TCP port (in-process
	// connections only). Port 0 picks a free port.
	Listen string

	ClusterName   string   // cluster name; or "" when not clustered
	ClusterListen string   // route listen address "host:port"; or "" when not clustered
	Routes        []string // route URLs (nats-route://host:port) of the other nodes

	JetStream bool   // enable JetStream
	StoreDir  string // JetStream store directory (required with JetStream)
	MaxMemory int64  // JetStream memory limit, bytes; 0 = server default
	MaxStore  int64  // JetStream file store limit, bytes; 0 = server default

	MaxPayload int32 // largest message, bytes; 0 = server default (1 MiB)

	// LameDuckDuration, when > 0 and the server listens, makes Shutdown enter
	// lame-duck mode: clients are told to reconnect elsewhere and are closed
	// over this period, with jitter, before the server stops.
	LameDuckDuration time.Duration

	Logger *slog.Logger // or nil to discard; Debug/Trace of the server map to slog debug
	Debug  bool         // pass the server's debug logs to Logger
}

// Validate reports every problem of o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Listen != "" {
		if _, _, err := splitHostPort(o.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen: %w", err))
		}
	}
	if o.ClusterListen != "" {
		if _, _, err := splitHostPort(o.ClusterListen); err != nil {
			errs = append(errs, fmt.Errorf("cluster listen: %w", err))
		}
		if o.ClusterName == "" {
			errs = append(errs, errors.New("cluster listen requires a cluster name"))
		}
	}
	for _, r := range o.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("route %q: not a URL like nats-route://host:port", r))
		}
	}
	if len(o.Routes) > 0 && o.ClusterListen == "" {
		errs = append(errs, errors.New("routes require a cluster listen address"))
	}
	if o.JetStream && o.StoreDir == "" {
		errs = append(errs, errors.New("jetstream requires a store directory"))
	}
	if o.MaxMemory < 0 || o.MaxStore < 0 {
		errs = append(errs, errors.New("jetstream limits must not be negative"))
	}
	if o.MaxPayload < 0 {
		errs = append(errs, errors.New("max payload must not be negative"))
	}
	if o.LameDuckDuration < 0 {
		errs = append(errs, errors.New("lame duck duration must not be negative"))
	}
	return errors.Join(errs...)
}

// splitHostPort splits "host:port"; port 0 becomes -1 (random port) as
// nats-server expects.
func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", ps)
	}
	if p == 0 {
		p = -1
	}
	return host, p, nil
}
