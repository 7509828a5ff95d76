package executor

import (
	"strings"
	"testing"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// TestProjectErrorPositions: an error in any file of a multi-file project
// names that file and a line:col within it, not the joined source's.
func TestProjectErrorPositions(t *testing.T) {
	const main = "function h(){\n  addResult(x)\n}\nregisterEndpoint(\"/a\", \"GET\", [], \"\", h, o)\n"
	cases := []struct {
		name      string
		files     map[string]string
		want      string
		line, col int
	}{
		{"compile error, second file", map[string]string{"a.avap": main, "b.avap": "x = 1\n  addVar(1)\n"},
			"b.avap:2:10: argument 1 of addVar must be a variable name", 2, 10},
		{"parse error, second file", map[string]string{"a.avap": main, "b.avap": "x = 1\ny = (\n"},
			"b.avap:2:6: expected expression", 2, 6},
		{"compile error, first file", map[string]string{"a.avap": "x = 1\naddVar(2)\n" + main, "b.avap": "y = 2\n"},
			"a.avap:2:8: argument 1 of addVar", 2, 8},
		// b.avap has no final newline; the third file still gets its own lines.
		{"compile error, third file", map[string]string{"a.avap": main, "b.avap": "x = 1\ny = 2", "lib/c.avap": "\n\n\naddVar(3)\n"},
			"lib/c.avap:4:8: argument 1 of addVar", 4, 8},
		{"bad registration, second file", map[string]string{"a.avap": main, "b.avap": "function g(){\n}\n\nregisterEndpoint(\"/u/x{id}\", \"GET\", [], \"\", g, o)\n"},
			"b.avap:4:18: registerEndpoint argument 1: route path", 4, 18},
	}
	for _, c := range cases {
		_, err := buildProject("p", c.files, vm.CompileOptions{})
		if err == nil {
			t.Errorf("%s: deployed", c.name)
			continue
		}
		var rep bus.Reply
		deployFailure(&rep, err)
		if !strings.HasPrefix(rep.Error, c.want) || rep.Line != c.line || rep.Col != c.col || rep.Code != bus.CodeSyntax {
			t.Errorf("%s: %s %d:%d %q\nwant %d:%d %q...", c.name, rep.Code, rep.Line, rep.Col, rep.Error, c.line, c.col, c.want)
		}
	}
}
