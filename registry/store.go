package registry

import (
	"context"
	"time"
)

// Status of a package version.
const (
	StatusActive     = "active"
	StatusDeprecated = "deprecated" // still runs; a warning goes to the run's logs
	StatusRevoked    = "revoked"    // refused everywhere
)

// Entry is one package version in the catalogue (no content).
type Entry struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Kind      string    `json:"kind"`
	Hash      string    `json:"hash"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Revision  int64     `json:"revision"` // catalogue revision of its last change
	KeyID     string    `json:"key_id"`   // name+hash of the signing key
	Published time.Time `json:"published"`
}

// Record is an entry with its signed envelope.
type Record struct {
	Entry
	Envelope []byte `json:"envelope"`
}

// Store is the registry's source of truth: PostgreSQL (NewPostgresStore)
// or files under a directory (OpenFileStore). Implementations are safe for
// concurrent use.
type Store interface {
	// Publish adds a version in one transaction. Publishing the same
	// content again returns the existing entry; other content under an
	// existing name@version is ErrExists.
	Publish(ctx context.Context, rec *Record) (Entry, error)
	// Get returns name@version, or ErrNotFound.
	Get(ctx context.Context, name, version string) (*Record, error)
	// GetByHash returns the version with content hash, or ErrNotFound.
	GetByHash(ctx context.Context, hash string) (*Record, error)
	// List returns the entries of name ("" = all), oldest revision first.
	List(ctx context.Context, name string) ([]Entry, error)
	// Since returns the entries changed after revision rev, in revision
	// order, and the current revision.
	Since(ctx context.Context, rev int64) ([]Entry, int64, error)
	// SetStatus deprecates or revokes (or reactivates) name@version.
	SetStatus(ctx context.Context, name, version, status, reason string) (Entry, error)
	// Close releases the store.
	Close()
}
