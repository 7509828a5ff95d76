package vmtest

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	c, err := Parse("x/a.txtar", []byte(`comment
-- main.avap --
addParam(b, v)
-- input.json --
{"query": {"b": "2", "a": "1"}, "form": [["f", "x"]], "params": {"p": 1}, "location": "UTC"}
-- limits --
steps=10
timeout=1s
memory=100
depth=3
output=50
-- output --
{"status": 0, "result": {}, "variables": {"v": "~re:^[0-9]$"}, "logs": []}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "x/a" || len(c.Input.Query) != 2 || c.Input.Query[0].Name != "b" || c.Input.Form[0].Value != "x" ||
		string(c.Input.Params) != `{"p": 1}` || c.Zone != "UTC" {
		t.Errorf("case = %+v", c)
	}
	if c.Limits.MaxSteps != 10 || c.Limits.Timeout != time.Second || c.Limits.MaxMemoryBytes != 100 ||
		c.Limits.MaxCallDepth != 3 || c.Limits.MaxOutputBytes != 50 {
		t.Errorf("limits = %+v", c.Limits)
	}
	out := Local(t, c)
	Check(t, c, out)
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"-- output --\n{}\n",       // no script
		"-- main.avap --\nx = 1\n", // neither output nor error
		"-- main.avap --\nx = 1\n-- output --\n{}\n-- error --\nx\n",      // both
		"-- main.avap --\nx = 1\n-- error --\n(\n",                        // bad regexp
		"-- main.avap --\nx = 1\n-- limits --\nbogus=1\n-- error --\nx\n", // unknown limit
		"-- main.avap --\nx = 1\n-- weird --\n-- error --\nx\n",           // unknown section
		"-- main.avap --\nx = 1\n-- input.json --\n{\"nope\": 1}\n-- error --\nx\n",
	} {
		if _, err := Parse("t.txtar", []byte(src)); err == nil {
			t.Errorf("accepted:\n%s", src)
		}
	}
}

func TestCompare(t *testing.T) {
	var want, have any
	decodeOrdered([]byte(`{"a": [1, "~re:^x+$"], "b": {"c": 1.0}}`), &want)
	decodeOrdered([]byte(`{"a": [1, "xxx"], "b": {"c": 1.0}}`), &have)
	if d := compare("", want, have); d != "" {
		t.Errorf("diff %s", d)
	}
	decodeOrdered([]byte(`{"b": {"c": 1.0}, "a": [1, "xxx"]}`), &have)
	if d := compare("", want, have); !strings.Contains(d, "keys") {
		t.Errorf("key order not checked: %q", d)
	}
	decodeOrdered([]byte(`{"a": [1, "xxx"], "b": {"c": 1}}`), &have)
	if d := compare("", want, have); d == "" {
		t.Error("1 and 1.0 compared equal")
	}
}
