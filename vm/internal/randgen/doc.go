// Package randgen generates random strings that match a regular expression,
// as AVAP's randomString(pattern, length, target) needs (the reference
// implementation uses Python's exrex).
//
// [Generate] produces one random match of the pattern after another and
// joins them until the result is n characters long, cutting the last one
// short. The usual pattern is a single character class, so each character
// is drawn independently and uniformly from the class:
//
//	Generate("[A-Za-z0-9]", 32, rand.Reader) // 32 alphanumerics
//	Generate(`\d`, 6, rand.Reader)           // 6 digits
//	Generate("[a-f]{4}-", 10, rand.Reader)   // e.g. "bcaf-fdea-"
//
// Patterns use Go's regexp/syntax (RE2, Perl flags). Generation supports
// literals (with (?i) picking a random ASCII case), character classes,
// concatenation, alternation (branches equally likely), groups and repeats.
// Unbounded repeats (*, + and {n,}) are capped at [MaxUnbounded] extra
// repetitions, as exrex caps them; counted repeats pick a count uniformly.
// The universe for ".", negated classes ([^a-z], \D, \W, \S) and any other
// class that reaches the top of Unicode is printable ASCII (space to '~'),
// which is what exrex draws from. Anchors and word-boundary assertions
// generate nothing and are not enforced, so a pattern such as `a\bb` yields
// strings that do not match it.
//
// Randomness comes from the io.Reader the caller passes (crypto/rand.Reader
// in production, a seeded generator in tests); every choice is uniform,
// by rejection sampling without modulo bias. The work is bounded: n is at
// most [MaxLength], and a pattern that keeps producing empty matches fails
// with [ErrTooComplex] instead of looping.
package randgen
