// Package registry is the AVAP command registry: signed command packages,
// their PostgreSQL (or file) store, the `avap registry` micro service and
// the executors' layered cache.
//
// # Packages
//
// A package is one version of a library (functions for
// import("name@range")) or of a named script: name, semver version, kind,
// interface (functions and parameter names), the libraries it linked (name,
// version, content hash), the AVAP source, the VM bytecode and its format
// version (vm.BytecodeVersion), and the creation time. The body encoding
// is canonical: magic "AVPK\x01", then the fields in that order, integers
// as uvarints, strings length-prefixed, the time as a varint of Unix
// milliseconds. The content hash is the hex SHA-256 of the body.
//
// # Signed envelope
//
// Like golang.org/x/mod/sumdb/note, an envelope is text:
//
//	avap-package v1
//	QVZQSwEEbWF0aAUxLjAuMAdsaWJyYXJ5AQZkb3VibGUBAXgA...
//
//	— dev Mpq0KZ5c8v2xk0...
//
// The second line is the base64 body; each signature line is "— ", the key
// name, a space and base64(4-byte key hash || 64-byte ed25519 signature
// over "avap-package v1\n" + body). Keys are note-style:
// "name+hash+base64(0x01||key)", private ones prefixed "PRIVATE+KEY+" so
// NewVerifier refuses them. Open checks the envelope against trusted keys
// and fails with typed errors: *UnknownVerifierError (key not trusted),
// *InvalidSignatureError (tampered), ErrUnsigned, ErrMalformed,
// ErrHashMismatch; all wrap ErrVerify. Package.Program refuses another
// bytecode format (ErrIncompatible) and bytecode not compiled from the
// package's source.
//
// # Tiers
//
// Executors use Cache: L1 an in-process LRU with TTL keyed by content hash
// and bytecode version; L2 the JetStream KV bucket bus.RegistryBucket
// ("pkg.<hash>" envelopes, "idx.<name>" catalogue entries written by the
// registry); the local file cache under data_dir (verified again on load,
// so executors start offline); L3 the registry service. The catalogue is
// watched in KV: a publish, deprecation or revocation reaches every
// executor in milliseconds, bumps Cache.Generation and evicts revoked
// packages from L1.
package registry
