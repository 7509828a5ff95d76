package bus

import (
	"reflect"
	"strings"
	"testing"
)

func TestRoutePattern(t *testing.T) {
	cases := []struct {
		pattern, path string
		ok            bool
		params        []Param
	}{
		{"/", "/", true, nil},
		{"/", "/a", false, nil},
		{"/items", "/items", true, nil},
		{"/items", "/items/", false, nil},
		{"/items", "/Items", false, nil},
		{"/users/{id}", "/users/42", true, []Param{{"id", "42"}}},
		{"/users/{id}", "/users/", false, nil},
		{"/users/{id}", "/users", false, nil},
		{"/users/{id}", "/users/42/x", false, nil},
		{"/users/{id}", "/users/a%20b%2Fc", true, []Param{{"id", "a b/c"}}},
		{"/o/{org}/u/{user}", "/o/acme/u/ann", true, []Param{{"org", "acme"}, {"user", "ann"}}},
		{"/o/{org}/u/{user}", "/o/acme/v/ann", false, nil},
	}
	for _, c := range cases {
		rp, err := ParseRoutePath(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		params, ok, err := rp.Match(c.path)
		if err != nil || ok != c.ok || !reflect.DeepEqual(params, c.params) {
			t.Errorf("%s ~ %s = %v %v %v, want %v %v", c.pattern, c.path, params, ok, err, c.params, c.ok)
		}
	}
	rp, _ := ParseRoutePath("/users/{id}")
	if _, _, err := rp.Match("/users/%zz"); err != ErrBadPathEscape {
		t.Errorf("bad escape: %v", err)
	}
	for _, bad := range []string{"", "users", "/a//b", "/{}", "/{1x}", "/{id", "/x{id}", "/{id}/{id}", "/a b", "/a%20", "/u/{user}.json"} {
		if _, err := ParseRoutePath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseRoutePath("/" + manyParams(17)); err == nil {
		t.Error("17 parameters accepted")
	}
	a, _ := ParseRoutePath("/users/me")
	b, _ := ParseRoutePath("/users/{id}")
	c, _ := ParseRoutePath("/{x}/me")
	if !a.MoreSpecific(b) || b.MoreSpecific(a) || !b.MoreSpecific(c) || c.MoreSpecific(b) {
		t.Error("literal segments must win, leftmost first")
	}
	if b.Shape() != "/users/{}" || !a.Static() || b.Static() || !reflect.DeepEqual(b.Params(), []string{"id"}) {
		t.Errorf("shape %q params %v", b.Shape(), b.Params())
	}
}

func manyParams(n int) string {
	var s []string
	for i := range n {
		s = append(s, "{p"+string(rune('a'+i))+"}")
	}
	return strings.Join(s, "/")
}
