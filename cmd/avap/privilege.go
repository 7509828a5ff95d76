package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Running as root. A server role (serve, edge, executor, registry, nats)
// started with euid 0 refuses to start unless root is allowed explicitly
// (--allow-root, AVAP_ALLOW_ROOT=true or allow_root: true; not reloadable)
// or every listener the node opens binds a loopback address, so the quick
// start (`avap serve` on 127.0.0.1:8080 with in-process NATS) keeps working
// on a developer machine, with a warning. One-shot commands (run, check,
// backup, ...) never call this.

// nodeListener is one address a server role listens on.
type nodeListener struct {
	Key  string // config key, e.g. "http.addr"
	Addr string // host:port
}

// roleListeners lists the addresses role opens with config c, mirroring
// newNode (node.go): every role serves HTTP (API or probes/metrics) on
// http.addr; serve and nats also run the embedded NATS server.
func roleListeners(role string, c *Config) []nodeListener {
	ls := []nodeListener{{"http.addr", c.HTTP.Addr}}
	switch role {
	case roleServe, roleNATS:
		listen := c.NATS.Listen
		if listen == "" && role == roleNATS {
			listen = defaultNATSListen
		}
		if listen != "" {
			ls = append(ls, nodeListener{"nats.listen", listen})
		}
		if c.NATS.Cluster.Listen != "" {
			ls = append(ls, nodeListener{"nats.cluster.listen", c.NATS.Cluster.Listen})
		}
	}
	return ls
}

// isLoopbackAddr reports whether host:port binds only a loopback
// interface. An empty host (":8080"), 0.0.0.0, :: and names other than
// localhost are not loopback: names are not resolved here.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// rootPolicy decides whether role may start with effective user id euid.
// It returns a warning to log when the node runs as root anyway, and an
// error (one line, naming the fix) when it must not start.
func rootPolicy(euid int, role string, c *Config) (warning string, err error) {
	if euid != 0 {
		return "", nil
	}
	if c.AllowRoot {
		return "running as root (euid 0) because allow_root is set: a compromised or misbehaving process could change the whole system; run avap as an unprivileged user (see deploy/systemd and deploy/kubernetes)", nil
	}
	var open []string
	for _, l := range roleListeners(role, c) {
		if !isLoopbackAddr(l.Addr) {
			open = append(open, fmt.Sprintf("%s=%s", l.Key, l.Addr))
		}
	}
	if len(open) > 0 {
		return "", fmt.Errorf("refusing to run %s as root (euid 0) with non-loopback listeners (%s): run avap as an unprivileged user (see deploy/systemd), bind loopback addresses only, or allow it explicitly with --allow-root, AVAP_ALLOW_ROOT=true or allow_root: true",
			role, strings.Join(open, ", "))
	}
	return "running as root (euid 0), allowed because every listener is on loopback: a compromised or misbehaving process could change the whole system; run avap as an unprivileged user (see deploy/systemd and deploy/kubernetes)", nil
}

// allowRootFlag is the command-line form of allow_root.
const allowRootFlag = "allow-root"

// euid is the effective user id the root policy checks.
func (a *app) euid() int {
	if a.geteuid != nil {
		return a.geteuid()
	}
	return os.Geteuid()
}
