package bus

// Capability is a set of outside-world permissions of one run, carried in
// Request.Capabilities. The zero value grants every capability (no policy:
// a node without API keys); any other value grants exactly the bits set,
// and CapNone alone grants nothing. The API-key layer of the edge fills it;
// the executor's Host checks it before a command leaves the process.
type Capability uint64

// Capabilities.
const (
	CapHTTP Capability = 1 << iota // RequestGet, RequestPost
	CapSQL                         // avapConnector, connector methods, ormDirect, ormCheckTable, ormAccess*

	// CapNone marks an explicit set: a request with only this bit may not
	// leave the process at all.
	CapNone Capability = 1 << 63
)

// Has reports whether c grants x (every capability when c is 0).
func (c Capability) Has(x Capability) bool { return c == 0 || c&x == x }
