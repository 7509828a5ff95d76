package vm

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/avapmesh/avap/vm/internal/compile"
	"github.com/avapmesh/avap/vm/syntax"
)

// Program is a compiled script. It is immutable after Compile and safe for
// concurrent use by many Machines.
type Program struct {
	name        string
	hash        [32]byte
	code        *compile.Program
	funcs       []*compile.Func // code.Funcs with task starts lowered to SPAWN (async.go)
	consts      []Value
	globalIndex map[string]int
	imports     []Import // libraries linked at compile time; see import.go
	warnings    []string // link warnings for the logs of every run
}

// BytecodeVersion is the format version written after the "AVBC" magic by
// MarshalBinary (as a varint). Caches of encoded programs should key on it.
const BytecodeVersion = compile.Version

// DefaultMaxSourceBytes and DefaultMaxNesting are the CompileOptions used for
// zero fields.
const (
	DefaultMaxSourceBytes = 1 << 20
	DefaultMaxNesting     = 200
)

// Compile parses and compiles one script. Syntax and compile errors come
// back as a syntax.ErrorList holding all of them, sorted; each has a
// position and Error() gives "name:line:col: msg" lines.
func Compile(name string, src []byte, opts CompileOptions) (*Program, error) {
	return CompileContext(context.Background(), name, src, opts)
}

// CompileContext is Compile with a context for opts.Importer, which may do
// I/O to resolve import() and include().
func CompileContext(ctx context.Context, name string, src []byte, opts CompileOptions) (*Program, error) {
	if opts.MaxSourceBytes <= 0 {
		opts.MaxSourceBytes = DefaultMaxSourceBytes
	}
	if opts.MaxNesting <= 0 {
		opts.MaxNesting = DefaultMaxNesting
	}
	if len(src) > opts.MaxSourceBytes {
		var el syntax.ErrorList
		el.Add(name, syntax.Pos{Line: 1, Col: 1}, fmt.Sprintf("source too large (%d bytes, limit %d)", len(src), opts.MaxSourceBytes))
		return nil, el
	}
	f, err := syntax.Parse(name, src, syntax.Options{MaxNesting: opts.MaxNesting})
	if err != nil {
		return nil, err
	}
	var links *linker
	if hasImports(f) {
		if f, links, err = link(ctx, f, opts); err != nil {
			return nil, err
		}
	}
	cp, errs := compile.Compile(f, compile.Options{MaxNesting: opts.MaxNesting})
	if len(errs) > 0 {
		var el syntax.ErrorList
		for _, e := range errs {
			el.Add(name, e.Pos, e.Msg)
		}
		el.Sort()
		return nil, el
	}
	p := newProgram(name, sha256.Sum256(src), cp)
	if links != nil {
		p.imports, p.warnings = links.imports, links.warnings
	}
	return p, nil
}

func newProgram(name string, hash [32]byte, cp *compile.Program) *Program {
	p := &Program{name: name, hash: hash, code: cp, globalIndex: cp.GlobalIndex()}
	p.code.Name = name
	p.funcs = lowerSpawns(cp.Funcs)
	p.consts = make([]Value, len(cp.Consts))
	for i, k := range cp.Consts {
		switch k.Kind {
		case compile.ConstNone:
			p.consts[i] = None
		case compile.ConstBool:
			p.consts[i] = Bool(k.Int != 0)
		case compile.ConstInt:
			p.consts[i] = Int(k.Int)
		case compile.ConstFloat:
			p.consts[i] = Float(k.Float)
		case compile.ConstString:
			p.consts[i] = String(k.Str)
		}
	}
	return p
}

// Name returns the script name given to Compile.
func (p *Program) Name() string { return p.name }

// Hash returns the SHA-256 of the source.
func (p *Program) Hash() [32]byte { return p.hash }

// Commands returns the sorted distinct commands and built-in functions the
// program may call, including names that are not known commands (they fail
// at run time with ErrUnknownCommand). User functions are not listed.
func (p *Program) Commands() []string { return append([]string(nil), p.code.Calls...) }

// SideEffectFree reports whether the program calls no Host command, so a
// run may be retried on another executor.
func (p *Program) SideEffectFree() bool { return !p.code.Host }

// MarshalBinary encodes the program: magic "AVBC", format version, the
// source hash and the compiled code (see package doc).
func (p *Program) MarshalBinary() ([]byte, error) {
	return compile.Encode(p.code, p.hash)
}

// UnmarshalProgram decodes a program encoded by MarshalBinary. It rejects
// other magics and format versions, and verifies the code so a corrupt
// encoding cannot make the machine misbehave.
func UnmarshalProgram(b []byte) (*Program, error) {
	cp, hash, err := compile.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("vm: decode program: %w", err)
	}
	return newProgram(cp.Name, hash, cp), nil
}
