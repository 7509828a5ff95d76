package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/avapmesh/avap/vm"
)

// Kinds of package.
const (
	KindLibrary = "library" // functions for import("name@range")
	KindScript  = "script"  // a named script run by {"command": name}
)

// Limits on a package.
const (
	MaxNameLen     = 128
	MaxPackageSize = 8 << 20 // encoded body
)

// Func is one exported function of a library: its interface.
type Func struct {
	Name   string   `json:"name"`
	Params []string `json:"params"`
}

// Dep is a library linked into the package's bytecode.
type Dep struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// Package is the signed content of one command package version.
type Package struct {
	Name            string
	Version         string // semver without build metadata, e.g. 1.2.0
	Kind            string // KindLibrary or KindScript
	Interface       []Func // functions it declares
	Deps            []Dep  // libraries it imported when compiled
	Source          []byte // AVAP source
	BytecodeVersion uint64 // vm.BytecodeVersion of Bytecode
	Bytecode        []byte // vm.Program.MarshalBinary
	Created         time.Time
}

// ValidName reports whether name can name a package: 1 to MaxNameLen
// letters, digits, '_' or '-', with single inner dots.
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLen || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return fmt.Errorf("%w: name %q", ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%w: name %q", ErrInvalid, name)
		}
	}
	return nil
}

// ValidVersion reports whether v is a full semver version (MAJOR.MINOR.PATCH,
// optional pre-release, no build metadata) in canonical form.
func ValidVersion(v string) error {
	sv, err := semver.StrictNewVersion(v)
	if err != nil || sv.Metadata() != "" || sv.Original() != sv.String() {
		return fmt.Errorf("%w: version %q (want MAJOR.MINOR.PATCH)", ErrInvalid, v)
	}
	return nil
}

func (p *Package) validate() error {
	if err := ValidName(p.Name); err != nil {
		return err
	}
	if err := ValidVersion(p.Version); err != nil {
		return err
	}
	if p.Kind != KindLibrary && p.Kind != KindScript {
		return fmt.Errorf("%w: kind %q", ErrInvalid, p.Kind)
	}
	return nil
}

// The body encoding is canonical: fields in a fixed order, integers as
// uvarints, strings and byte strings length-prefixed.
const bodyMagic = "AVPK\x01"

// encodeBody returns the canonical encoding of p.
func (p *Package) encodeBody() []byte {
	b := []byte(bodyMagic)
	str := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str([]byte(p.Name))
	str([]byte(p.Version))
	str([]byte(p.Kind))
	b = binary.AppendUvarint(b, uint64(len(p.Interface)))
	for _, f := range p.Interface {
		str([]byte(f.Name))
		b = binary.AppendUvarint(b, uint64(len(f.Params)))
		for _, a := range f.Params {
			str([]byte(a))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Deps)))
	for _, d := range p.Deps {
		str([]byte(d.Name))
		str([]byte(d.Version))
		str([]byte(d.Hash))
	}
	str(p.Source)
	b = binary.AppendUvarint(b, p.BytecodeVersion)
	str(p.Bytecode)
	b = binary.AppendVarint(b, p.Created.UnixMilli())
	return b
}

type bodyReader struct {
	b   []byte
	err error
}

func (r *bodyReader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: truncated body", ErrMalformed)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *bodyReader) bytes() []byte {
	n := r.uint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: truncated body", ErrMalformed)
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *bodyReader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) { // every element takes at least one byte
		r.err = fmt.Errorf("%w: bad count", ErrMalformed)
		return 0
	}
	return int(n)
}

func decodeBody(b []byte) (*Package, error) {
	if !bytes.HasPrefix(b, []byte(bodyMagic)) {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	r := &bodyReader{b: b[len(bodyMagic):]}
	p := &Package{}
	p.Name = string(r.bytes())
	p.Version = string(r.bytes())
	p.Kind = string(r.bytes())
	for range r.count() {
		f := Func{Name: string(r.bytes())}
		for range r.count() {
			f.Params = append(f.Params, string(r.bytes()))
		}
		p.Interface = append(p.Interface, f)
	}
	for range r.count() {
		p.Deps = append(p.Deps, Dep{Name: string(r.bytes()), Version: string(r.bytes()), Hash: string(r.bytes())})
	}
	p.Source = r.bytes()
	p.BytecodeVersion = r.uint()
	p.Bytecode = r.bytes()
	if r.err == nil {
		ms, n := binary.Varint(r.b)
		if n <= 0 {
			r.err = fmt.Errorf("%w: truncated body", ErrMalformed)
		} else if r.b = r.b[n:]; len(r.b) != 0 {
			r.err = fmt.Errorf("%w: trailing bytes", ErrMalformed)
		}
		p.Created = time.UnixMilli(ms).UTC()
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}

// Signed envelope (text, after sumdb/note):
//
//	avap-package v1
//	<base64 of the canonical body>
//
//	— <key name> <base64(4-byte key hash || 64-byte ed25519 signature)>
//
// The signature covers "avap-package v1\n" followed by the raw body. The
// content hash of a package is the hex SHA-256 of the raw body.
const (
	envelopeHeader = "avap-package v1\n"
	sigPrefix      = "\u2014 "
)

// Seal signs p with every signer (at least one) and returns the envelope
// and the content hash.
func Seal(p *Package, signers ...Signer) (envelope []byte, hash string, err error) {
	if err := p.validate(); err != nil {
		return nil, "", err
	}
	if len(signers) == 0 {
		return nil, "", ErrUnsigned
	}
	body := p.encodeBody()
	if len(body) > MaxPackageSize {
		return nil, "", fmt.Errorf("%w: package is %d bytes, limit %d", ErrInvalid, len(body), MaxPackageSize)
	}
	msg := append([]byte(envelopeHeader), body...)
	var out bytes.Buffer
	out.WriteString(envelopeHeader)
	out.WriteString(base64.StdEncoding.EncodeToString(body))
	out.WriteString("\n\n")
	for _, s := range signers {
		sig, err := s.Sign(msg)
		if err != nil {
			return nil, "", fmt.Errorf("sign with %s: %w", s.Name(), err)
		}
		kh := binary.BigEndian.AppendUint32(nil, s.KeyHash())
		fmt.Fprintf(&out, "%s%s %s\n", sigPrefix, s.Name(), base64.StdEncoding.EncodeToString(append(kh, sig...)))
	}
	sum := sha256.Sum256(body)
	return out.Bytes(), hex.EncodeToString(sum[:]), nil
}

// Verified is a package whose signature checked out.
type Verified struct {
	*Package
	Hash    string // hex SHA-256 of the body
	KeyName string // the trusted key that signed it
	KeyHash uint32
}

// Open verifies an envelope against the trusted keys and decodes it. A
// failure wraps ErrVerify (typed: *UnknownVerifierError,
// *InvalidSignatureError; or ErrUnsigned, ErrMalformed). When wantHash is
// not "", the content hash must equal it (ErrHashMismatch).
func Open(envelope []byte, keys Verifiers, wantHash string) (*Verified, error) {
	if len(envelope) > 2*MaxPackageSize {
		return nil, fmt.Errorf("%w: %w: too large", ErrVerify, ErrMalformed)
	}
	rest, ok := bytes.CutPrefix(envelope, []byte(envelopeHeader))
	if !ok {
		return nil, fmt.Errorf("%w: %w: bad header", ErrVerify, ErrMalformed)
	}
	b64, sigs, ok := bytes.Cut(rest, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: %w: no signature block", ErrVerify, ErrMalformed)
	}
	body, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: %w: body: %v", ErrVerify, ErrMalformed, err)
	}
	msg := append([]byte(envelopeHeader), body...)
	var firstErr error
	var good Verifier
	lines := strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil, fmt.Errorf("%w: %w", ErrVerify, ErrUnsigned)
	}
	for _, line := range lines {
		rest, ok := strings.CutPrefix(line, sigPrefix)
		name, sigText, ok2 := strings.Cut(rest, " ")
		raw, err := base64.StdEncoding.DecodeString(sigText)
		if !ok || !ok2 || err != nil || len(raw) < 5 {
			return nil, fmt.Errorf("%w: %w: bad signature line", ErrVerify, ErrMalformed)
		}
		kh := binary.BigEndian.Uint32(raw)
		v, err := keys.Verifier(name, kh)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !v.Verify(msg, raw[4:]) {
			return nil, &InvalidSignatureError{Name: name, KeyHash: kh}
		}
		if good == nil {
			good = v
		}
	}
	if good == nil {
		if firstErr == nil {
			firstErr = fmt.Errorf("%w: %w", ErrVerify, ErrUnsigned)
		}
		return nil, firstErr
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if wantHash != "" && hash != wantHash {
		return nil, fmt.Errorf("%w: %w: got %s, want %s", ErrVerify, ErrHashMismatch, hash[:12], shortHash(wantHash))
	}
	p, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	return &Verified{Package: p, Hash: hash, KeyName: good.Name(), KeyHash: good.KeyHash()}, nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Program decodes the package's bytecode. It refuses a bytecode format
// other than this VM's (ErrIncompatible) and bytecode that was not compiled
// from the package's source (ErrHashMismatch).
func (p *Package) Program() (*vm.Program, error) {
	if p.BytecodeVersion != vm.BytecodeVersion {
		return nil, fmt.Errorf("%w: %s@%s needs bytecode format %d, this VM has %d", ErrIncompatible, p.Name, p.Version, p.BytecodeVersion, vm.BytecodeVersion)
	}
	prog, err := vm.UnmarshalProgram(p.Bytecode)
	if err != nil {
		return nil, fmt.Errorf("%w: %s@%s: %w", ErrVerify, p.Name, p.Version, err)
	}
	if prog.Hash() != sha256.Sum256(p.Source) {
		return nil, fmt.Errorf("%w: %w: %s@%s bytecode is not from its source", ErrVerify, ErrHashMismatch, p.Name, p.Version)
	}
	return prog, nil
}

// String returns name@version.
func (p *Package) String() string { return p.Name + "@" + p.Version }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
