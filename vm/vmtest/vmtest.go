// Package vmtest runs the AVAP conformance suite: txtar archives that each
// hold a script, its request input, run limits and the expected response.
// The runner is pluggable, so the same archives check the in-process
// machine (Local) and, later, the executor over NATS.
//
// Archive sections:
//
//	-- main.avap --     the script (required)
//	-- input.json --    optional request: {"query": {"a": "1"} or [["a","1"], ...],
//	                    "params": {...}, "body": {...}, "form": {...} or [[k, v], ...],
//	                    "variables": {...}, "location": "Europe/Madrid"}
//	-- limits --        optional "key=value" lines: steps, timeout (Go duration),
//	                    memory (bytes), depth, output (bytes)
//	-- output --        expected JSON envelope {"status", "result", "variables", "logs"}
//	                    of a successful run; a string value "~re:REGEXP" matches the
//	                    JSON text of the actual value (strings without quotes)
//	-- error --         regexp matched against the error text ("main.avap:L:C: msg";
//	                    one line per error for syntax errors)
//
// Exactly one of output and error is expected. With Options.Update the runner
// rewrites output sections from the actual results (archives containing
// "~re:" patterns are left alone).
//
// The in-process suite (vm/conformance_test.go):
//
//	vmtest.Run(t, os.DirFS("testdata/conformance"), vmtest.Local,
//		vmtest.Options{Update: *update, UpdateDir: "testdata/conformance", Parallel: true})
//
// Another runner, such as the executor over NATS, passes its own RunFunc:
// send c.Script with c.Input (and c.Zone, c.Limits), and map the reply to an
// Outcome (Err: the error text "main.avap:L:C: msg").
//
//	vmtest.Run(t, os.DirFS("../vm/testdata/conformance"), func(t testing.TB, c *vmtest.Case) vmtest.Outcome {
//		return callExecutor(t, c)
//	}, vmtest.Options{Parallel: true})
package vmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/syntax"
	"github.com/rogpeppe/go-internal/txtar"
)

// Case is one parsed conformance archive.
type Case struct {
	Name   string    // path of the archive inside the suite, without ".txtar"
	Script []byte    // main.avap
	Input  vm.Input  // request (Host and Location unset unless the archive says)
	Zone   string    // "location" of input.json; "" = UTC
	Limits vm.Limits // from the limits section; zero fields = runner defaults
	Output []byte    // expected envelope; nil when an error is expected
	Error  string    // expected error regexp; "" when output is expected
	File   string    // archive path relative to the suite root
	Raw    *txtar.Archive
}

// Outcome is what a runner produced for a case.
type Outcome struct {
	Status    int
	Result    json.RawMessage
	Variables json.RawMessage
	Logs      []string
	Err       string // error text: "main.avap:L:C: msg" (one line per syntax error); "" on success
}

// RunFunc runs one case and reports its outcome.
type RunFunc func(t testing.TB, c *Case) Outcome

// Options tune Run.
type Options struct {
	// Update rewrites the output sections of the archives under UpdateDir
	// (the directory fsys was made from) from the actual outcomes.
	Update    bool
	UpdateDir string
	// Parallel runs cases in parallel subtests.
	Parallel bool
	// Skip names archives (paths without .txtar) not to run, with the reason.
	Skip map[string]string
}

// Run runs every *.txtar archive of fsys (recursively) as a subtest.
func Run(t *testing.T, fsys fs.FS, run RunFunc, opts Options) {
	t.Helper()
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".txtar") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("vmtest: no archives found")
	}
	sort.Strings(files)
	for _, file := range files {
		name := strings.TrimSuffix(file, ".txtar")
		t.Run(name, func(t *testing.T) {
			if why, ok := opts.Skip[name]; ok {
				t.Skip(why)
			}
			if opts.Parallel && !opts.Update {
				t.Parallel()
			}
			data, err := fs.ReadFile(fsys, file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(file, data)
			if err != nil {
				t.Fatal(err)
			}
			out := run(t, c)
			if opts.Update && c.Error == "" && out.Err == "" && !bytes.Contains(c.Output, []byte("~re:")) {
				if err := update(opts.UpdateDir, c, out); err != nil {
					t.Fatal(err)
				}
				return
			}
			Check(t, c, out)
		})
	}
}

// Parse parses one archive.
func Parse(file string, data []byte) (*Case, error) {
	ar := txtar.Parse(data)
	c := &Case{Name: strings.TrimSuffix(file, ".txtar"), File: file, Raw: ar}
	seen := map[string]bool{}
	for _, f := range ar.Files {
		if seen[f.Name] {
			return nil, fmt.Errorf("%s: duplicate section %q", file, f.Name)
		}
		seen[f.Name] = true
		switch f.Name {
		case "main.avap":
			c.Script = f.Data
		case "input.json":
			if err := parseInput(c, f.Data); err != nil {
				return nil, fmt.Errorf("%s: input.json: %w", file, err)
			}
		case "limits":
			if err := parseLimits(&c.Limits, f.Data); err != nil {
				return nil, fmt.Errorf("%s: limits: %w", file, err)
			}
		case "output":
			c.Output = f.Data
		case "error":
			c.Error = strings.TrimSpace(string(f.Data))
		default:
			return nil, fmt.Errorf("%s: unknown section %q", file, f.Name)
		}
	}
	if c.Script == nil {
		return nil, fmt.Errorf("%s: no main.avap section", file)
	}
	if (c.Output == nil) == (c.Error == "") {
		return nil, fmt.Errorf("%s: need exactly one of output and error", file)
	}
	if c.Error != "" {
		if _, err := regexp.Compile(c.Error); err != nil {
			return nil, fmt.Errorf("%s: error regexp: %w", file, err)
		}
	}
	return c, nil
}

func parseInput(c *Case, data []byte) error {
	var in struct {
		Query     json.RawMessage `json:"query"`
		Params    json.RawMessage `json:"params"`
		Body      json.RawMessage `json:"body"`
		Form      json.RawMessage `json:"form"`
		Variables json.RawMessage `json:"variables"`
		Location  string          `json:"location"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return err
	}
	var err error
	if c.Input.Query, err = parseParams(in.Query); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	if c.Input.Form, err = parseParams(in.Form); err != nil {
		return fmt.Errorf("form: %w", err)
	}
	c.Input.Params = nonNull(in.Params)
	c.Input.Body = nonNull(in.Body)
	c.Input.Variables = nonNull(in.Variables)
	c.Zone = in.Location
	return nil
}

func nonNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// parseParams reads {"a": "1", ...} (order kept) or [["a", "1"], ...].
func parseParams(raw json.RawMessage) ([]vm.Param, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs [][2]string
	if json.Unmarshal(raw, &pairs) == nil {
		out := make([]vm.Param, len(pairs))
		for i, p := range pairs {
			out[i] = vm.Param{Name: p[0], Value: p[1]}
		}
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("want an object of strings or a list of pairs")
	}
	var out []vm.Param
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, vm.Param{Name: k.(string), Value: v})
	}
	return out, nil
}

func parseLimits(l *vm.Limits, data []byte) error {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("bad line %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var err error
		switch k {
		case "timeout":
			l.Timeout, err = time.ParseDuration(v)
		default:
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			switch k {
			case "steps":
				l.MaxSteps = n
			case "memory":
				l.MaxMemoryBytes = n
			case "depth":
				l.MaxCallDepth = int(n)
			case "output":
				l.MaxOutputBytes = n
			default:
				return fmt.Errorf("unknown limit %q", k)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// Local runs c on an in-process machine: compile, run with the case's
// input and limits (zero limits: 1,000,000 steps, 5s, defaults otherwise).
func Local(t testing.TB, c *Case) Outcome {
	p, err := vm.Compile("main.avap", c.Script, vm.CompileOptions{})
	if err != nil {
		return Outcome{Err: ErrorText(err)}
	}
	// Every compiled program must survive an encoding round trip.
	if b, err := p.MarshalBinary(); err != nil {
		t.Errorf("MarshalBinary: %v", err)
	} else if p2, err := vm.UnmarshalProgram(b); err != nil {
		t.Errorf("UnmarshalProgram: %v", err)
	} else {
		p = p2
	}
	in := c.Input
	if c.Zone != "" {
		loc, err := time.LoadLocation(c.Zone)
		if err != nil {
			t.Fatalf("location: %v", err)
		}
		in.Location = loc
	}
	lim := c.Limits
	if lim.MaxSteps == 0 {
		lim.MaxSteps = 1_000_000
	}
	res, err := vm.NewMachine().Run(context.Background(), p, &in, lim)
	if err != nil {
		var ee *vm.EvalError
		if errors.As(err, &ee) && ee.GoStack != "" {
			t.Errorf("internal error: %v\n%s", err, ee.GoStack)
		}
		return Outcome{Err: ErrorText(err)}
	}
	return Outcome{Status: res.Status, Result: res.Result, Variables: res.Variables, Logs: res.Logs}
}

// ErrorText renders an error the way archives match it: one line per
// syntax error, otherwise err.Error().
func ErrorText(err error) string {
	var el syntax.ErrorList
	if errors.As(err, &el) {
		lines := make([]string, len(el))
		for i, e := range el {
			lines[i] = e.Error()
		}
		return strings.Join(lines, "\n")
	}
	return err.Error()
}

// envelope is the golden output form.
type envelope struct {
	Status    int             `json:"status"`
	Result    json.RawMessage `json:"result"`
	Variables json.RawMessage `json:"variables"`
	Logs      []string        `json:"logs"`
}

func render(o Outcome) []byte {
	env := envelope{Status: o.Status, Result: o.Result, Variables: o.Variables, Logs: o.Logs}
	if env.Logs == nil {
		env.Logs = []string{}
	}
	if env.Result == nil {
		env.Result = json.RawMessage("{}")
	}
	if env.Variables == nil {
		env.Variables = json.RawMessage("{}")
	}
	b, err := json.Marshal(env)
	if err != nil {
		return []byte(fmt.Sprintf("marshal: %v", err))
	}
	var out bytes.Buffer
	json.Indent(&out, b, "", "  ")
	out.WriteByte('\n')
	return out.Bytes()
}

// Check compares an outcome with the case's expectation.
func Check(t testing.TB, c *Case, o Outcome) {
	t.Helper()
	if c.Error != "" {
		if o.Err == "" {
			t.Fatalf("want error matching %q, got success:\n%s", c.Error, render(o))
		}
		if !regexp.MustCompile(c.Error).MatchString(o.Err) {
			t.Fatalf("error %q does not match %q", o.Err, c.Error)
		}
		return
	}
	if o.Err != "" {
		t.Fatalf("unexpected error: %s", o.Err)
	}
	got := render(o)
	var want, have any
	if err := decodeOrdered(c.Output, &want); err != nil {
		t.Fatalf("bad output section: %v", err)
	}
	if err := decodeOrdered(got, &have); err != nil {
		t.Fatalf("bad actual output: %v\n%s", err, got)
	}
	if diff := compare("", want, have); diff != "" {
		t.Fatalf("output mismatch: %s\n--- got:\n%s--- want:\n%s", diff, got, c.Output)
	}
}

// ordered is a JSON object that keeps key order.
type ordered struct {
	keys []string
	vals []any
}

func decodeOrdered(data []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	x, err := decodeValue(dec)
	if err != nil {
		return err
	}
	*v = x
	return nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			o := &ordered{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k.(string))
				o.vals = append(o.vals, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			var l []any
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		}
	}
	return tok, nil
}

// compare returns "" when have matches want: same key order, numbers by
// their exact text, "~re:" patterns matched against the value's JSON text.
func compare(at string, want, have any) string {
	if s, ok := want.(string); ok && strings.HasPrefix(s, "~re:") {
		text := jsonText(have)
		if !regexp.MustCompile(s[4:]).MatchString(text) {
			return fmt.Sprintf("%s: %q does not match %s", at, text, s[4:])
		}
		return ""
	}
	switch w := want.(type) {
	case *ordered:
		h, ok := have.(*ordered)
		if !ok {
			return fmt.Sprintf("%s: want object, got %s", at, jsonText(have))
		}
		if strings.Join(w.keys, "\x00") != strings.Join(h.keys, "\x00") {
			return fmt.Sprintf("%s: keys %q, want %q", at, h.keys, w.keys)
		}
		for i := range w.keys {
			if d := compare(at+"."+w.keys[i], w.vals[i], h.vals[i]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return fmt.Sprintf("%s: got %s, want %s", at, jsonText(have), jsonText(want))
		}
		for i := range w {
			if d := compare(fmt.Sprintf("%s[%d]", at, i), w[i], h[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if jsonText(want) != jsonText(have) {
		return fmt.Sprintf("%s: got %s, want %s", at, jsonText(have), jsonText(want))
	}
	return ""
}

func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case *ordered:
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			q, _ := json.Marshal(k)
			parts[i] = string(q) + ":" + quoteText(v.vals[i])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = quoteText(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

func quoteText(v any) string {
	if s, ok := v.(string); ok {
		q, _ := json.Marshal(s)
		return string(q)
	}
	return jsonText(v)
}

func update(dir string, c *Case, o Outcome) error {
	if dir == "" {
		return errors.New("vmtest: Update needs UpdateDir")
	}
	out := render(o)
	ar := c.Raw
	found := false
	for i := range ar.Files {
		if ar.Files[i].Name == "output" {
			ar.Files[i].Data = out
			found = true
		}
	}
	if !found {
		ar.Files = append(ar.Files, txtar.File{Name: "output", Data: out})
	}
	return os.WriteFile(filepath.Join(dir, filepath.FromSlash(path.Clean(c.File))), txtar.Format(ar), 0o644)
}
