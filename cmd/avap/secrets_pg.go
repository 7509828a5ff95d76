package main

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL password rotation without a restart. A DSN (postgres.dsn,
// an SQL connector's dsn_file/dsn_env) whose new value differs from the
// running one only in the password (the usual Vault or Kubernetes
// rotation: ALTER ROLE ... PASSWORD, then the secret is updated) is
// applied on reload: every pool built from it has a BeforeConnect hook
// that sets the current password on each NEW connection. Connections
// already open stay authenticated and keep working until the pool
// recycles them (pgx's MaxConnLifetime, 1h by default). Any other
// difference (host, port, database, user, options) still needs a
// restart. Values are never logged; the reload logs
// "postgres password rotated".

// dsnWithoutPassword returns dsn in a canonical form with the password
// removed (URL userinfo, password= parameter), so two DSNs that differ
// only in the password compare equal.
func dsnWithoutPassword(dsn string) (string, error) {
	dsn = strings.TrimSpace(dsn)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("invalid connection URL") // err quotes the URL (and the password)
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		q.Del("password")
		u.RawQuery = q.Encode() // sorted by key
		return u.String(), nil
	}
	kv, err := parseKeyValueDSN(dsn)
	if err != nil {
		return "", err
	}
	delete(kv, "password")
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		parts = append(parts, k+"="+strconv.Quote(kv[k]))
	}
	return strings.Join(parts, " "), nil
}

// parseKeyValueDSN splits a libpq key=value connection string: values are
// bare or single-quoted; a backslash escapes the next byte in both.
func parseKeyValueDSN(s string) (map[string]string, error) {
	out := map[string]string{}
	bad := errors.New("invalid key=value connection string")
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, bad
		}
		key := strings.TrimSpace(s[:eq])
		if key == "" || strings.ContainsFunc(key, unicode.IsSpace) {
			return nil, bad
		}
		s = strings.TrimLeftFunc(s[eq+1:], unicode.IsSpace)
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			for {
				if s == "" {
					return nil, bad // unterminated quote
				}
				c := s[0]
				s = s[1:]
				if c == '\'' {
					break
				}
				if c == '\\' && s != "" {
					c, s = s[0], s[1:]
				}
				val.WriteByte(c)
			}
		} else {
			for s != "" && !unicode.IsSpace(rune(s[0])) {
				c := s[0]
				s = s[1:]
				if c == '\\' && s != "" {
					c, s = s[0], s[1:]
				}
				val.WriteByte(c)
			}
		}
		out[key] = val.String()
	}
}

// passwordOnlyChange reports whether DSNs a and b differ and the
// difference is the password alone (so it can be applied on reload).
func passwordOnlyChange(a, b string) bool {
	if a == b || a == "" || b == "" {
		return false
	}
	na, err1 := dsnWithoutPassword(a)
	nb, err2 := dsnWithoutPassword(b)
	return err1 == nil && err2 == nil && na == nb
}

// dsnPassword is the password pgx would use for dsn (from the DSN,
// PGPASSWORD or the passfile); ok is false when dsn does not parse.
func dsnPassword(dsn string) (string, bool) {
	c, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", false
	}
	return c.Password, true
}

// passwordSource is the password of new connections of one pool: it
// follows a DSN read per connection attempt (current), parsing it again
// only when it changed. Safe for concurrent use.
type passwordSource struct {
	current func() string // the DSN in effect now
	cache   atomic.Pointer[[2]string]
}

// beforeConnect is a pgxpool.Config.BeforeConnect: it sets the current
// password on the new connection's config. A DSN that does not parse
// leaves the config as it is (the pool was built from a valid one).
func (p *passwordSource) beforeConnect(_ context.Context, cc *pgx.ConnConfig) error {
	dsn := p.current()
	if dsn == "" {
		return nil
	}
	c := p.cache.Load()
	if c == nil || c[0] != dsn {
		pw, ok := dsnPassword(dsn)
		if !ok {
			return nil
		}
		c = &[2]string{dsn, pw}
		p.cache.Store(c)
	}
	cc.Password = c[1]
	return nil
}

// pgBeforeConnect is the BeforeConnect hook of pools built from
// postgres.dsn: new connections use the password of the running config,
// which a reload replaces when only the password changed.
func pgBeforeConnect(h *configHolder) func(context.Context, *pgx.ConnConfig) error {
	p := &passwordSource{current: func() string { return h.Current().Postgres.DSN.Reveal() }}
	return p.beforeConnect
}
