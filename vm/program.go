package vm

import (
	"errors"
)

// Program is a compiled script. It is immutable after Compile and safe for
// concurrent use by many Machines.
type Program struct {
	name string
	hash [32]byte
}

// Compile parses and compiles one script. Syntax and compile errors come
// back as a syntax.ErrorList holding all of them, sorted.
func Compile(name string, src []byte, opts CompileOptions) (*Program, error) {
	return nil, errors.New("vm: Compile not implemented yet")
}

// Name returns the script name given to Compile.
func (p *Program) Name() string { return p.name }

// Hash returns the SHA-256 of the source.
func (p *Program) Hash() [32]byte { return p.hash }

// Commands returns the sorted distinct commands and built-ins the program may call.
func (p *Program) Commands() []string { return nil }

// SideEffectFree reports whether the program calls no Host command, so a
// run may be retried on another executor.
func (p *Program) SideEffectFree() bool { return true }

// MarshalBinary encodes the program: magic "AVBC" + format version + body.
func (p *Program) MarshalBinary() ([]byte, error) {
	return nil, errors.New("vm: MarshalBinary not implemented yet")
}

// UnmarshalProgram decodes a program encoded by MarshalBinary.
func UnmarshalProgram(b []byte) (*Program, error) {
	return nil, errors.New("vm: UnmarshalProgram not implemented yet")
}
