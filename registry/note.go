package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keys follow golang.org/x/mod/sumdb/note:
//
//	public key  (verifier): <name>+<hash>+<base64(0x01 || ed25519 public key)>
//	private key (signer):   PRIVATE+KEY+<name>+<hash>+<base64(0x01 || ed25519 seed)>
//
// <hash> is 8 hex digits, the first 4 bytes of
// SHA-256(name + "\n" + 0x01 + public key): the key id written next to
// every signature. The PRIVATE+KEY prefix keeps a private key from being
// pasted where a public one belongs (NewVerifier refuses it).

const algEd25519 = 1

// Signer signs packages.
type Signer interface {
	Name() string    // key name
	KeyHash() uint32 // key id
	Sign(msg []byte) ([]byte, error)
}

// Verifier checks signatures of one key.
type Verifier interface {
	Name() string
	KeyHash() uint32
	Verify(msg, sig []byte) bool
}

// Verifiers finds the verifier of a key; *UnknownVerifierError when the
// key is not trusted.
type Verifiers interface {
	Verifier(name string, hash uint32) (Verifier, error)
}

// GenerateKey makes a key pair named name (letters, digits, '-', '_', '.').
func GenerateKey(r io.Reader, name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("%w: name %q", ErrMalformedKey, name)
	}
	if r == nil {
		r = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return "", "", err
	}
	h := keyHash(name, append([]byte{algEd25519}, pub...))
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, priv.Seed()...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, pub...)))
	return skey, vkey, nil
}

func validKeyName(name string) bool {
	if name == "" || len(name) > 64 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func parseKey(s string) (name string, hash uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(strings.TrimSpace(s), "+")
	hashText, keyText, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return "", 0, nil, ErrMalformedKey
	}
	parts := []string{name, hashText, keyText}
	name = parts[0]
	h, err1 := strconv.ParseUint(parts[1], 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(parts[2])
	if !validKeyName(name) || len(parts[1]) != 8 || err1 != nil || err2 != nil || len(key) < 1 || key[0] != algEd25519 {
		return "", 0, nil, ErrMalformedKey
	}
	return name, uint32(h), key, nil
}

type verifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v *verifier) Name() string                { return v.name }
func (v *verifier) KeyHash() uint32             { return v.hash }
func (v *verifier) Verify(msg, sig []byte) bool { return ed25519.Verify(v.pub, msg, sig) }

// NewVerifier parses a public key. A private key is refused.
func NewVerifier(vkey string) (Verifier, error) {
	if strings.HasPrefix(strings.TrimSpace(vkey), "PRIVATE+KEY+") {
		return nil, fmt.Errorf("%w: this is a private key; trust the public key instead", ErrMalformedKey)
	}
	name, hash, key, err := parseKey(vkey)
	if err != nil {
		return nil, err
	}
	if len(key) != 1+ed25519.PublicKeySize || keyHash(name, key) != hash {
		return nil, ErrMalformedKey
	}
	return &verifier{name: name, hash: hash, pub: ed25519.PublicKey(key[1:])}, nil
}

type signer struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s *signer) Name() string                    { return s.name }
func (s *signer) KeyHash() uint32                 { return s.hash }
func (s *signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// NewSigner parses a private key (PRIVATE+KEY+...).
func NewSigner(skey string) (Signer, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(skey), "PRIVATE+KEY+")
	if !ok {
		return nil, fmt.Errorf("%w: not a private key (want PRIVATE+KEY+...)", ErrMalformedKey)
	}
	name, hash, key, err := parseKey(rest)
	if err != nil {
		return nil, err
	}
	if len(key) != 1+ed25519.SeedSize {
		return nil, ErrMalformedKey
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	pub := append([]byte{algEd25519}, priv.Public().(ed25519.PublicKey)...)
	if keyHash(name, pub) != hash {
		return nil, ErrMalformedKey
	}
	return &signer{name: name, hash: hash, priv: priv}, nil
}

// PublicKey returns the public key text of a signer made by NewSigner.
func PublicKey(s Signer) (string, error) {
	ss, ok := s.(*signer)
	if !ok {
		return "", fmt.Errorf("%w: not an ed25519 signer", ErrMalformedKey)
	}
	pub := append([]byte{algEd25519}, ss.priv.Public().(ed25519.PublicKey)...)
	return fmt.Sprintf("%s+%08x+%s", ss.name, ss.hash, base64.StdEncoding.EncodeToString(pub)), nil
}

// Keyring is a set of trusted verifiers (several at once for rotation).
type Keyring struct {
	keys map[string]Verifier // name+hash
}

// NewKeyring parses trusted public keys; every bad one is reported.
func NewKeyring(vkeys ...string) (*Keyring, error) {
	k := &Keyring{keys: map[string]Verifier{}}
	var errs []error
	for i, s := range vkeys {
		v, err := NewVerifier(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted key %d: %w", i, err))
			continue
		}
		k.keys[fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

// Len returns the number of trusted keys.
func (k *Keyring) Len() int { return len(k.keys) }

// Verifier implements Verifiers.
func (k *Keyring) Verifier(name string, hash uint32) (Verifier, error) {
	if v, ok := k.keys[fmt.Sprintf("%s+%08x", name, hash)]; ok {
		return v, nil
	}
	return nil, &UnknownVerifierError{Name: name, KeyHash: hash}
}
