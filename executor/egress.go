package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// EgressPolicy decides which hosts RequestGet/RequestPost may reach.
//
// Allow lists host names ("api.example.com"), wildcards ("*.example.com":
// any subdomain, not the apex), IP addresses and CIDR blocks
// ("203.0.113.0/24", "10.1.2.3"). An empty Allow lets scripts reach any
// public address; a non-empty one only the hosts it matches ("*" matches
// every host name).
//
// Whatever Allow says, addresses that are not public — loopback, private
// (RFC 1918, IPv6 ULA), link-local (which holds the cloud metadata address
// 169.254.169.254), CGNAT, unspecified, multicast, the IPv6 metadata
// address fd00:ec2::254 and IPv4-mapped forms of these — are refused unless
// an IP or CIDR entry of Allow contains the address, or the exact host name
// (not a wildcard) is listed. The check runs on the addresses DNS returned,
// in the dialer, so it holds for every connection, including each redirect,
// and a name that resolves to 127.0.0.1 is refused like 127.0.0.1 itself.
type EgressPolicy struct {
	hosts    map[string]bool // exact names, lower case
	suffixes []string        // ".example.com" of "*.example.com"
	any      bool            // "*"
	prefixes []netip.Prefix
	open     bool // Allow was empty: every public address
}

// ErrEgressDenied is wrapped by the error of a request the egress policy refuses.
var ErrEgressDenied = errors.New("egress denied")

// NewEgressPolicy parses an allow list (see EgressPolicy).
func NewEgressPolicy(allow []string) (*EgressPolicy, error) {
	p := &EgressPolicy{hosts: map[string]bool{}, open: len(allow) == 0}
	var errs []error
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "":
			errs = append(errs, errors.New("egress allow: empty entry"))
		case a == "*":
			p.any = true
		case strings.HasPrefix(a, "*."):
			if !validHostName(a[2:]) {
				errs = append(errs, fmt.Errorf("egress allow: bad wildcard %q", a))
				continue
			}
			p.suffixes = append(p.suffixes, a[1:])
		case strings.Contains(a, "/"):
			pr, err := netip.ParsePrefix(a)
			if err != nil {
				errs = append(errs, fmt.Errorf("egress allow: bad CIDR %q", a))
				continue
			}
			p.prefixes = append(p.prefixes, pr.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
				p.prefixes = append(p.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			if !validHostName(a) {
				errs = append(errs, fmt.Errorf("egress allow: bad host name %q", a))
				continue
			}
			p.hosts[a] = true
		}
	}
	return p, errors.Join(errs...)
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostAllowed reports whether the name (or IP literal) host passes the
// name part of the policy; exact is true when host is listed by name.
func (p *EgressPolicy) hostAllowed(host string) (ok, exact bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if p.hosts[host] {
		return true, true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.open || p.any || p.inPrefixes(ip.Unmap()), false
	}
	if p.open || p.any {
		return true, false
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) {
			return true, false
		}
	}
	return false, false
}

func (p *EgressPolicy) inPrefixes(ip netip.Addr) bool {
	for _, pr := range p.prefixes {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// addrAllowed checks one resolved address of a host that passed
// hostAllowed (exact: listed by name).
func (p *EgressPolicy) addrAllowed(ip netip.Addr, exact bool) bool {
	ip = ip.Unmap()
	if p.inPrefixes(ip) {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	if !public(ip) {
		return exact
	}
	return true
}

// nonPublic lists the blocks refused unless allowed explicitly (beside
// what netip's Is* methods cover).
var nonPublic = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 internals
	netip.MustParsePrefix("2001:db8::/32"),
}

// public reports whether ip is a public unicast address.
func public(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, pr := range nonPublic {
		if pr.Contains(ip) {
			return false
		}
	}
	return true
}

// Resolver looks up the addresses of a host name; *net.Resolver is one.
// Tests substitute their own to point names at local servers.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// egressDialer dials only addresses the policy allows: it resolves the
// name itself, checks every address, and connects to the first allowed
// one by IP, so no second lookup can change the answer (DNS rebinding).
// The socket Control hook checks the final address once more.
type egressDialer struct {
	policy   *EgressPolicy
	resolver Resolver
	dialer   net.Dialer
}

func (d *egressDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ok, exact := d.policy.hostAllowed(host)
	if !ok {
		return nil, fmt.Errorf("%w: host %s is not in executor.egress.allow", ErrEgressDenied, host)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
	}
	var lastErr error
	for _, ip := range ips {
		if !d.policy.addrAllowed(ip, exact) {
			lastErr = fmt.Errorf("%w: %s resolves to %s, which is not a public address", ErrEgressDenied, host, ip.Unmap())
			continue
		}
		dl := d.dialer
		dl.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !d.policy.addrAllowed(ap.Addr(), exact) {
				return fmt.Errorf("%w: %s", ErrEgressDenied, address)
			}
			return nil
		}
		c, err := dl.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no address for %s", host)
	}
	return nil, lastErr
}
