package registry

import (
	"encoding/hex"
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// Resolve picks the highest version of name in es that satisfies the
// semver range constraint ("" = any release; "1.2.3" = exactly that;
// "^1.2", "~1.2", ">=1, <2" ...). Revoked versions never match. A
// deprecated pick comes with a warning for the run's logs. No match is
// ErrNotFound (ErrRevoked when only revoked versions match); a bad range
// is ErrInvalid.
func Resolve(es []Entry, name, constraint string) (Entry, string, error) {
	c := constraint
	if c == "" {
		c = "*"
	}
	cons, err := semver.NewConstraint(c)
	if err != nil {
		return Entry{}, "", fmt.Errorf("%w: version range %q: %v", ErrInvalid, constraint, err)
	}
	var best Entry
	var bestV *semver.Version
	revoked := false
	for _, e := range es {
		if e.Name != name {
			continue
		}
		v, err := semver.NewVersion(e.Version)
		if err != nil || !cons.Check(v) {
			continue
		}
		if e.Status == StatusRevoked {
			revoked = true
			continue
		}
		if bestV == nil || v.GreaterThan(bestV) {
			best, bestV = e, v
		}
	}
	if bestV == nil {
		if revoked {
			return Entry{}, "", fmt.Errorf("%w: every version of %s matching %q is revoked", ErrRevoked, name, c)
		}
		return Entry{}, "", fmt.Errorf("%w: no version of %s matches %q", ErrNotFound, name, c)
	}
	warn := ""
	if best.Status == StatusDeprecated {
		warn = fmt.Sprintf("warning: package %s@%s is deprecated", best.Name, best.Version)
		if best.Reason != "" {
			warn += ": " + best.Reason
		}
	}
	return best, warn, nil
}

func isExact(v string) bool { return ValidVersion(v) == nil }

func mustHex(h string) []byte {
	b, _ := hex.DecodeString(h)
	return b
}
