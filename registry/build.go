package registry

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/avapmesh/avap/vm"
	"github.com/avapmesh/avap/vm/syntax"
)

// BuildOptions describe a package to build from source.
type BuildOptions struct {
	Name     string
	Version  string
	Kind     string      // KindLibrary or KindScript
	Importer vm.Importer // resolves import()/include(); or nil
	Compile  vm.CompileOptions
	Now      time.Time // creation time; zero = time.Now()
}

// Build compiles src and returns the unsigned package: interface, deps
// and bytecode filled in. Compile errors come back as syntax.ErrorList.
func Build(ctx context.Context, src []byte, o BuildOptions) (*Package, error) {
	p := &Package{Name: o.Name, Version: o.Version, Kind: o.Kind, Source: src, BytecodeVersion: vm.BytecodeVersion, Created: o.Now}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.Created = p.Created.UTC().Truncate(time.Millisecond)
	f, err := syntax.Parse(o.Name, src, syntax.Options{MaxNesting: o.Compile.MaxNesting})
	if err != nil {
		return nil, err
	}
	for _, s := range f.Stmts {
		switch s := s.(type) {
		case *syntax.FuncDecl:
			fn := Func{Name: s.Name.Name, Params: []string{}}
			for _, a := range s.Params {
				fn.Params = append(fn.Params, a.Name)
			}
			p.Interface = append(p.Interface, fn)
		case *syntax.ImportStmt:
		default:
			if o.Kind == KindLibrary {
				return nil, syntax.ErrorList{{Filename: o.Name, Pos: s.Pos(), Msg: "a library may only declare functions and import() others at top level"}}
			}
		}
	}
	copts := o.Compile
	copts.Importer = o.Importer
	prog, err := vm.CompileContext(ctx, o.Name+".avap", src, copts)
	if err != nil {
		return nil, err
	}
	for _, im := range prog.Imports() {
		p.Deps = append(p.Deps, Dep{Name: im.Name, Version: im.Version, Hash: hex.EncodeToString(im.Hash[:])})
	}
	if p.Bytecode, err = prog.MarshalBinary(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", p, err)
	}
	return p, nil
}
