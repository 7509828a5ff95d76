package vm_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/avapmesh/avap/vm"
)

// mapImporter serves libraries and files from maps.
type mapImporter struct {
	libs  map[string]string // name -> source (version "1.0.0")
	files map[string]string // path -> source
	warn  map[string]string
}

func (m mapImporter) Import(_ context.Context, name, constraint string) (*vm.Library, error) {
	src, ok := m.libs[name]
	if !ok {
		return nil, fmt.Errorf("package %q not found", name)
	}
	if constraint == "^9" {
		return nil, errors.New("no version matches ^9")
	}
	return &vm.Library{Name: name, Version: "1.0.0", Source: []byte(src), Warning: m.warn[name]}, nil
}

func (m mapImporter) Include(_ context.Context, from, p string) (string, []byte, error) {
	file := path.Join(path.Dir(from), p)
	src, ok := m.files[file]
	if !ok {
		return "", nil, fmt.Errorf("file %q not found", file)
	}
	return file, []byte(src), nil
}

func runSrc(t *testing.T, name, src string, imp vm.Importer) (string, *vm.Program, error) {
	t.Helper()
	p, err := vm.CompileContext(context.Background(), name, []byte(src), vm.CompileOptions{Importer: imp})
	if err != nil {
		return "", nil, err
	}
	res, err := vm.NewMachine().Run(context.Background(), p, &vm.Input{}, vm.Limits{})
	if err != nil {
		return "", p, err
	}
	return string(res.Result), p, nil
}

func TestImportLibrary(t *testing.T) {
	imp := mapImporter{
		libs: map[string]string{
			"math": "import(\"strs@^1\")\nfunction double(x) {\n  return(x * 2)\n}\n",
			"strs": "function greet(n) {\n  return(\"hi \" + n)\n}\n",
		},
		warn: map[string]string{"strs": "package strs@1.0.0 is deprecated"},
	}
	got, p, err := runSrc(t, "main.avap", "import(\"math@^1.2\")\nr = double(21)\ng = greet(\"ann\")\naddResult(r)\naddResult(g)\n", imp)
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"r":42,"g":"hi ann"}` {
		t.Fatalf("result %s", got)
	}
	imps := p.Imports()
	if len(imps) != 2 || imps[0].Name != "strs" || imps[1].Name != "math" || imps[1].Constraint != "^1.2" || imps[1].Version != "1.0.0" {
		t.Fatalf("imports %+v", imps)
	}
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], "deprecated") {
		t.Fatalf("warnings %q", w)
	}
	// Every run logs the warnings first.
	res, err := vm.NewMachine().Run(context.Background(), p, &vm.Input{}, vm.Limits{})
	if err != nil || len(res.Logs) != 1 || !strings.Contains(res.Logs[0], "deprecated") {
		t.Fatalf("logs %q %v", res.Logs, err)
	}
}

func TestInclude(t *testing.T) {
	imp := mapImporter{files: map[string]string{
		"lib/helpers.avap": "include(\"consts.avap\")\nfunction inc(x) {\n  return(x + step)\n}\n",
		"lib/consts.avap":  "step = 5\n",
	}}
	got, _, err := runSrc(t, "main.avap", "include(\"lib/helpers.avap\")\nr = inc(1)\naddResult(r)\n", imp)
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"r":6}` {
		t.Fatalf("result %s", got)
	}
}

func TestImportErrors(t *testing.T) {
	imp := mapImporter{
		libs: map[string]string{
			"a":     "import(\"b\")\nfunction fa() {\n  return(1)\n}\n",
			"b":     "import(\"a@^1\")\nfunction fb() {\n  return(2)\n}\n",
			"stmts": "x = 1\nfunction f() {\n  return(1)\n}\n",
			"bad":   "function f( {\n",
			"inc":   "include(\"x.avap\")\n",
		},
		files: map[string]string{
			"one.avap": "include(\"two.avap\")\n",
			"two.avap": "\n  include(\"one.avap\")\n",
		},
	}
	for _, tc := range []struct {
		src  string
		want string
		imp  vm.Importer
	}{
		{"import(\"a\")\n", `b@1.0.0:1:8: import cycle: a -> b -> a`, imp},
		{"include(\"one.avap\")\n", `two.avap:2:11: include cycle: one.avap -> two.avap -> one.avap`, imp},
		{"x = 1\nimport(\"nope@^1\")\n", `main.avap:2:8: import("nope@^1"): package "nope" not found`, imp},
		{"import(\"a@^9\")\n", `main.avap:1:8: import("a@^9"): no version matches ^9`, imp},
		{"include(\"missing.avap\")\n", `main.avap:1:9: include("missing.avap"): file "missing.avap" not found`, imp},
		{"import(\"stmts\")\n", `stmts@1.0.0:1:1: library stmts@1.0.0: only function declarations`, imp},
		{"import(\"bad\")\n", `bad@1.0.0:1:`, imp},
		{"import(\"inc\")\n", `inc@1.0.0:1:9: include("x.avap"): a library cannot include files`, imp},
		{"import(\"a\")\n", `main.avap:1:8: import("a"): no importer configured`, nil},
		{"if(1, 1, =)\n  import(\"a\")\nend()\n", `main.avap:2:3: import("a") must be at the top level`, imp},
		{"import(\"@^1\")\n", `missing package name`, imp},
	} {
		opts := vm.CompileOptions{}
		if tc.imp != nil {
			opts.Importer = tc.imp
		}
		_, err := vm.CompileContext(context.Background(), "main.avap", []byte(tc.src), opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestImportFunctionConflict(t *testing.T) {
	imp := mapImporter{libs: map[string]string{"l": "function f() {\n  return(1)\n}\n"}}
	_, err := vm.CompileContext(context.Background(), "main.avap",
		[]byte("import(\"l\")\nfunction f() {\n  return(2)\n}\n"), vm.CompileOptions{Importer: imp})
	if err == nil || !strings.Contains(err.Error(), "redeclared") {
		t.Fatalf("got %v", err)
	}
}
