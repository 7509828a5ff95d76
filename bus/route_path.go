package bus

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Route paths of registerEndpoint: "/" and segments separated by '/'; a
// segment is literal text (letters, digits, '-', '_', '.', '~') or a path
// parameter "{name}" (an identifier) that matches one non-empty segment of
// the request path: "/users/{id}" matches /users/42 with id = "42".

// MaxRouteParams bounds the path parameters of one route.
const MaxRouteParams = 16

// RoutePattern is a parsed route path.
type RoutePattern struct {
	segs []routeSeg
}

type routeSeg struct {
	lit   string // literal text; or "" for a parameter
	param string // parameter name; or ""
}

// ParseRoutePath parses a registerEndpoint path.
func ParseRoutePath(p string) (RoutePattern, error) {
	var rp RoutePattern
	if p == "" || p[0] != '/' || len(p) > 512 {
		return rp, fmt.Errorf("route path %q must start with '/' (at most 512 bytes)", p)
	}
	seen := map[string]bool{}
	for i, s := range strings.Split(p[1:], "/") {
		if strings.ContainsAny(s, "{}") {
			name, ok := strings.CutPrefix(s, "{")
			if ok {
				name, ok = strings.CutSuffix(name, "}")
			}
			if !ok || !IsIdentifier(name) {
				return rp, fmt.Errorf("route path %q: segment %q: a parameter is {name}, a whole segment, name an identifier", p, s)
			}
			if seen[name] {
				return rp, fmt.Errorf("route path %q: parameter {%s} twice", p, name)
			}
			seen[name] = true
			rp.segs = append(rp.segs, routeSeg{param: name})
			continue
		}
		if s == "" && i < strings.Count(p, "/")-1 {
			return rp, fmt.Errorf("route path %q: empty segment", p)
		}
		for j := 0; j < len(s); j++ {
			c := s[j]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0) {
				return rp, fmt.Errorf("route path %q: segment %q: letters, digits, '-', '_', '.', '~' or a {parameter}", p, s)
			}
		}
		rp.segs = append(rp.segs, routeSeg{lit: s})
	}
	if len(seen) > MaxRouteParams {
		return rp, fmt.Errorf("route path %q: more than %d parameters", p, MaxRouteParams)
	}
	return rp, nil
}

// IsIdentifier reports whether s is an AVAP identifier as project
// registrations use them (route parameters, function and variable names):
// ASCII letters, digits and '_', not starting with a digit, at most 128
// bytes.
func IsIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Params lists the parameter names in path order.
func (rp RoutePattern) Params() []string {
	var out []string
	for _, s := range rp.segs {
		if s.param != "" {
			out = append(out, s.param)
		}
	}
	return out
}

// Static reports whether the pattern has no parameter.
func (rp RoutePattern) Static() bool { return len(rp.Params()) == 0 }

// Shape is the path with every parameter written "{}": two routes of the
// same method and shape would match the same requests.
func (rp RoutePattern) Shape() string {
	var b strings.Builder
	for _, s := range rp.segs {
		b.WriteByte('/')
		if s.param != "" {
			b.WriteString("{}")
		} else {
			b.WriteString(s.lit)
		}
	}
	return b.String()
}

// ErrBadPathEscape is returned by Match for a parameter segment that is
// not valid percent-encoding.
var ErrBadPathEscape = errors.New("bad percent-encoding in the path")

// Match matches a request path (as sent: percent-encoded) and returns the
// parameter values, percent-decoded, in path order. Literal segments
// compare case-sensitively and byte for byte.
func (rp RoutePattern) Match(path string) ([]Param, bool, error) {
	if path == "" || path[0] != '/' {
		return nil, false, nil
	}
	rest := path[1:]
	var params []Param
	for i, s := range rp.segs {
		seg := rest
		last := i == len(rp.segs)-1
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			if last {
				return nil, false, nil
			}
			seg, rest = rest[:j], rest[j+1:]
		} else if !last {
			return nil, false, nil
		}
		if s.param == "" {
			if seg != s.lit {
				return nil, false, nil
			}
			continue
		}
		if seg == "" {
			return nil, false, nil
		}
		v, err := url.PathUnescape(seg)
		if err != nil {
			return nil, false, ErrBadPathEscape
		}
		params = append(params, Param{Name: s.param, Value: v})
	}
	return params, true, nil
}

// MoreSpecific orders patterns for matching: at the first segment where
// they differ in kind, the literal one wins (/users/me before /users/{id}).
func (rp RoutePattern) MoreSpecific(o RoutePattern) bool {
	for i := 0; i < len(rp.segs) && i < len(o.segs); i++ {
		a, b := rp.segs[i].param == "", o.segs[i].param == ""
		if a != b {
			return a
		}
	}
	return len(rp.segs) > len(o.segs)
}
