package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// FileStore is a Store in a directory, for a single node without
// PostgreSQL (`avap serve`): catalog.json plus one file per envelope under
// blobs/, named by content hash. Writes go to a temporary file and are
// renamed into place.
type FileStore struct {
	dir string

	mu      sync.Mutex // guards entries and rev, and serializes writes
	entries []Entry    // in revision order
	rev     int64
}

type fileCatalog struct {
	Revision int64   `json:"revision"`
	Entries  []Entry `json:"entries"`
}

// OpenFileStore opens (creating) the store in dir.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o750); err != nil {
		return nil, fmt.Errorf("registry file store: %w", err)
	}
	s := &FileStore{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "catalog.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry file store: %w", err)
	}
	var c fileCatalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("registry file store: catalog.json: %w", err)
	}
	s.entries, s.rev = c.Entries, c.Revision
	return s, nil
}

// writeFile writes b to path atomically.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (s *FileStore) saveLocked() error {
	b, err := json.MarshalIndent(fileCatalog{Revision: s.rev, Entries: s.entries}, "", " ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(s.dir, "catalog.json"), b)
}

func (s *FileStore) findLocked(name, version string) int {
	return slices.IndexFunc(s.entries, func(e Entry) bool { return e.Name == name && e.Version == version })
}

// Publish implements Store.
func (s *FileStore) Publish(_ context.Context, rec *Record) (Entry, error) {
	if !validHash(rec.Hash) {
		return Entry{}, fmt.Errorf("%w: hash %q", ErrInvalid, rec.Hash)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findLocked(rec.Name, rec.Version); i >= 0 {
		if s.entries[i].Hash == rec.Hash {
			return s.entries[i], nil
		}
		return Entry{}, fmt.Errorf("%w: %s@%s", ErrExists, rec.Name, rec.Version)
	}
	if err := writeFile(filepath.Join(s.dir, "blobs", rec.Hash), rec.Envelope); err != nil {
		return Entry{}, fmt.Errorf("registry file store: %w", err)
	}
	e := rec.Entry
	s.rev++
	e.Revision = s.rev
	if e.Status == "" {
		e.Status = StatusActive
	}
	if e.Published.IsZero() {
		e.Published = time.Now().UTC()
	}
	s.entries = append(s.entries, e)
	if err := s.saveLocked(); err != nil {
		s.entries = s.entries[:len(s.entries)-1]
		s.rev--
		return Entry{}, fmt.Errorf("registry file store: %w", err)
	}
	return e, nil
}

func (s *FileStore) record(e Entry) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "blobs", e.Hash))
	if err != nil {
		return nil, fmt.Errorf("registry file store: %s@%s: %w", e.Name, e.Version, err)
	}
	return &Record{Entry: e, Envelope: b}, nil
}

// Get implements Store.
func (s *FileStore) Get(_ context.Context, name, version string) (*Record, error) {
	s.mu.Lock()
	i := s.findLocked(name, version)
	var e Entry
	if i >= 0 {
		e = s.entries[i]
	}
	s.mu.Unlock()
	if i < 0 {
		return nil, fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
	}
	return s.record(e)
}

// GetByHash implements Store.
func (s *FileStore) GetByHash(_ context.Context, hash string) (*Record, error) {
	s.mu.Lock()
	i := slices.IndexFunc(s.entries, func(e Entry) bool { return e.Hash == hash })
	var e Entry
	if i >= 0 {
		e = s.entries[i]
	}
	s.mu.Unlock()
	if i < 0 {
		return nil, fmt.Errorf("%w: hash %s", ErrNotFound, shortHash(hash))
	}
	return s.record(e)
}

// List implements Store.
func (s *FileStore) List(_ context.Context, name string) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Entry{}
	for _, e := range s.entries {
		if name == "" || e.Name == name {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return int(a.Revision - b.Revision) })
	return out, nil
}

// Since implements Store.
func (s *FileStore) Since(_ context.Context, rev int64) ([]Entry, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Entry{}
	for _, e := range s.entries {
		if e.Revision > rev {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return int(a.Revision - b.Revision) })
	return out, s.rev, nil
}

// SetStatus implements Store.
func (s *FileStore) SetStatus(_ context.Context, name, version, status, reason string) (Entry, error) {
	if err := validStatus(status); err != nil {
		return Entry{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(name, version)
	if i < 0 {
		return Entry{}, fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
	}
	old := s.entries[i]
	s.rev++
	s.entries[i].Status, s.entries[i].Reason, s.entries[i].Revision = status, reason, s.rev
	if err := s.saveLocked(); err != nil {
		s.entries[i] = old
		s.rev--
		return Entry{}, fmt.Errorf("registry file store: %w", err)
	}
	return s.entries[i], nil
}

// Close implements Store.
func (s *FileStore) Close() {}

func validStatus(status string) error {
	switch status {
	case StatusActive, StatusDeprecated, StatusRevoked:
		return nil
	}
	return fmt.Errorf("%w: status %q", ErrInvalid, status)
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !('0' <= h[i] && h[i] <= '9' || 'a' <= h[i] && h[i] <= 'f') {
			return false
		}
	}
	return true
}
