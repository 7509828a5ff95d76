package vm

import (
	"context"
	"fmt"
	"strings"

	"github.com/avapmesh/avap/vm/syntax"
)

// Importer resolves the import() and include() statements of a script at
// compile time (LANGUAGE.md Part A #16). Set it in CompileOptions.Importer;
// without one, a script that imports or includes anything fails to compile.
// Implementations must be safe for concurrent use.
type Importer interface {
	// Import returns the library that import("name@constraint") names.
	// constraint is the semver range after '@' ("" when the script wrote
	// none: any version). An error becomes a compile error at the
	// statement's argument.
	Import(ctx context.Context, name, constraint string) (*Library, error)
	// Include returns the file that include(path) names inside the file
	// from (paths are relative to the including file): its canonical name,
	// used for messages and cycle detection, and its source.
	Include(ctx context.Context, from, path string) (file string, src []byte, err error)
}

// Library is one resolved import: AVAP source declaring functions (and
// importing other libraries). Its functions become callable by name from
// the importing script.
type Library struct {
	Name    string   // package name
	Version string   // resolved version
	Source  []byte   // top level: function declarations and import() only
	Hash    [32]byte // content hash of the package, for invalidation; or zero
	Warning string   // e.g. "package x@1.0.0 is deprecated"; shown in the run's logs; or ""
}

// Import records a library linked into a Program.
type Import struct {
	Name       string   // package name
	Constraint string   // range written in the script ("" = any)
	Version    string   // version linked
	Hash       [32]byte // Library.Hash
}

// Imports returns the libraries linked into the program, in link order.
func (p *Program) Imports() []Import { return append([]Import(nil), p.imports...) }

// Warnings returns the warnings found while linking (deprecated packages),
// meant for the logs of every run of the program.
func (p *Program) Warnings() []string { return append([]string(nil), p.warnings...) }

// Bounds on linking.
const (
	maxLinkDepth     = 32 // nested includes/imports
	maxLinkedSources = 16 // total linked source bytes, in multiples of MaxSourceBytes
)

// linker resolves the imports and includes of one compile.
type linker struct {
	ctx      context.Context
	imp      Importer
	opts     CompileOptions
	errs     syntax.ErrorList
	stack    []string // files and packages being linked, for cycle detection
	libs     map[string]bool
	funcs    []syntax.Stmt // function declarations of imported libraries
	imports  []Import
	warnings []string
	total    int
}

// hasImports reports whether any top-level statement of f is an import or include.
func hasImports(f *syntax.File) bool {
	for _, s := range f.Stmts {
		if _, ok := s.(*syntax.ImportStmt); ok {
			return true
		}
	}
	return false
}

// link replaces the top-level import() and include() statements of f:
// included files are spliced in place, imported libraries' functions are
// appended. Errors carry the name and position of the statement at fault.
func link(ctx context.Context, f *syntax.File, opts CompileOptions) (*syntax.File, *linker, error) {
	l := &linker{ctx: ctx, imp: opts.Importer, opts: opts, libs: map[string]bool{}}
	l.stack = []string{"file:" + f.Name}
	stmts := l.file(f.Name, f.Stmts, false)
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, nil, l.errs
	}
	out := &syntax.File{Name: f.Name, Stmts: append(stmts, l.funcs...)}
	return out, l, nil
}

func (l *linker) errorf(file string, pos syntax.Pos, format string, args ...any) {
	if len(l.errs) < 100 {
		l.errs.Add(file, pos, fmt.Sprintf(format, args...))
	}
}

func (l *linker) cycle(key string) (string, bool) {
	for i, s := range l.stack {
		if s == key {
			return strings.Join(append(append([]string(nil), l.stack[i:]...), key), " -> "), true
		}
	}
	return "", false
}

// file processes the top-level statements of one file.
func (l *linker) file(name string, stmts []syntax.Stmt, library bool) []syntax.Stmt {
	out := make([]syntax.Stmt, 0, len(stmts))
	for _, s := range stmts {
		is, ok := s.(*syntax.ImportStmt)
		if !ok {
			if _, fn := s.(*syntax.FuncDecl); library && !fn {
				l.errorf(name, s.Pos(), "library %s: only function declarations and import() are allowed at top level", name)
				continue
			}
			out = append(out, s)
			continue
		}
		what := "import"
		if is.Include {
			what = "include"
		}
		if l.imp == nil {
			l.errorf(name, is.PathPos, "%s(%q): no importer configured (imports need the command registry)", what, is.Path)
			continue
		}
		if len(l.stack) > maxLinkDepth {
			l.errorf(name, is.PathPos, "%s(%q): nested more than %d levels", what, is.Path, maxLinkDepth)
			continue
		}
		if is.Include {
			if library {
				l.errorf(name, is.PathPos, "include(%q): a library cannot include files", is.Path)
				continue
			}
			out = append(out, l.include(name, is)...)
			continue
		}
		l.importLib(name, is)
	}
	return out
}

func (l *linker) parse(name string, src []byte) (*syntax.File, bool) {
	l.total += len(src)
	limit := l.opts.MaxSourceBytes * maxLinkedSources
	if l.total > limit {
		l.errorf(name, syntax.Pos{Line: 1, Col: 1}, "linked sources too large (over %d bytes)", limit)
		return nil, false
	}
	if len(src) > l.opts.MaxSourceBytes {
		l.errorf(name, syntax.Pos{Line: 1, Col: 1}, "source too large (%d bytes, limit %d)", len(src), l.opts.MaxSourceBytes)
		return nil, false
	}
	f, err := syntax.Parse(name, src, syntax.Options{MaxNesting: l.opts.MaxNesting})
	if err != nil {
		if el, ok := err.(syntax.ErrorList); ok {
			l.errs = append(l.errs, el...)
		} else {
			l.errorf(name, syntax.Pos{Line: 1, Col: 1}, "%v", err)
		}
		return nil, false
	}
	return f, true
}

func (l *linker) include(from string, is *syntax.ImportStmt) []syntax.Stmt {
	file, src, err := l.imp.Include(l.ctx, from, is.Path)
	if err != nil {
		l.errorf(from, is.PathPos, "include(%q): %v", is.Path, err)
		return nil
	}
	key := "file:" + file
	if c, ok := l.cycle(key); ok {
		l.errorf(from, is.PathPos, "include cycle: %s", strings.ReplaceAll(c, "file:", ""))
		return nil
	}
	f, ok := l.parse(file, src)
	if !ok {
		return nil
	}
	l.stack = append(l.stack, key)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	return l.file(file, f.Stmts, false)
}

// SplitImport splits the argument of import("name@range") into the
// package name and the range ("" when there is no '@').
func SplitImport(path string) (name, constraint string) {
	if i := strings.LastIndexByte(path, '@'); i >= 0 {
		return strings.TrimSpace(path[:i]), strings.TrimSpace(path[i+1:])
	}
	return strings.TrimSpace(path), ""
}

func (l *linker) importLib(from string, is *syntax.ImportStmt) {
	name, constraint := SplitImport(is.Path)
	if name == "" {
		l.errorf(from, is.PathPos, "import(%q): missing package name", is.Path)
		return
	}
	key := "pkg:" + name
	if c, ok := l.cycle(key); ok {
		l.errorf(from, is.PathPos, "import cycle: %s", strings.ReplaceAll(c, "pkg:", ""))
		return
	}
	if l.libs[name] { // already linked (a diamond): the first resolution wins
		return
	}
	lib, err := l.imp.Import(l.ctx, name, constraint)
	if err != nil {
		l.errorf(from, is.PathPos, "import(%q): %v", is.Path, err)
		return
	}
	l.libs[name] = true
	file := lib.Name + "@" + lib.Version
	f, ok := l.parse(file, lib.Source)
	if !ok {
		return
	}
	l.stack = append(l.stack, key)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	l.funcs = append(l.funcs, l.file(file, f.Stmts, true)...)
	l.imports = append(l.imports, Import{Name: lib.Name, Constraint: constraint, Version: lib.Version, Hash: lib.Hash})
	if lib.Warning != "" {
		l.warnings = append(l.warnings, lib.Warning)
	}
}
