package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/avapmesh/avap/bus"
)

// fileStore writes audit events as JSON lines to dir/audit-<time>.jsonl,
// starting a new file when the current one passes maxBytes. It serves one
// node without PostgreSQL; queries scan the files newest first.
type fileStore struct {
	dir      string
	maxBytes int64

	mu   sync.Mutex // guards f, size and buf
	f    *os.File
	size int64
	buf  []byte // the lines of one write, reused from write to write
}

// fileChunk is how many bytes of lines a write gathers before it writes
// them out: the buffer is kept from one write to the next, so a steady
// stream of batches allocates nothing for its lines.
const fileChunk = 64 << 10

func newFileStore(dir string, maxBytes int64) (*fileStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	return &fileStore{dir: dir, maxBytes: maxBytes}, nil
}

func (s *fileStore) rotate() error {
	if s.f != nil {
		_ = s.f.Close()
	}
	name := filepath.Join(s.dir, "audit-"+time.Now().UTC().Format("20060102T150405.000000000")+".jsonl")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.f, s.size = f, 0
	return nil
}

func (s *fileStore) Write(_ context.Context, evs []bus.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Lines are written in chunks that end where the current file reaches
	// maxBytes, so one large batch still rotates like many small ones.
	buf := s.buf[:0]
	defer func() {
		if cap(buf) <= 2*fileChunk {
			s.buf = buf[:0]
		}
	}()
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if s.f == nil || s.size >= s.maxBytes {
			if err := s.rotate(); err != nil {
				return err
			}
		}
		n, err := s.f.Write(buf)
		s.size += int64(n)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("audit: write: %w", err)
		}
		return nil
	}
	for i := range evs {
		buf = append(evs[i].AppendJSON(buf), '\n') // what json.Marshal writes, without reflection
		if s.f == nil || s.size+int64(len(buf)) >= s.maxBytes || len(buf) >= fileChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if s.f == nil {
		return nil
	}
	return s.f.Sync()
}

func (s *fileStore) files() ([]string, error) {
	m, err := filepath.Glob(filepath.Join(s.dir, "audit-*.jsonl"))
	slices.Sort(m)
	return m, err
}

func (s *fileStore) Query(ctx context.Context, q bus.AuditQuery) ([]bus.AuditEvent, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	limit := queryLimit(q.Limit)
	var out []bus.AuditEvent
	for i := len(files) - 1; i >= 0 && len(out) < limit; i-- {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		evs, err := readMatching(files[i], q)
		if err != nil {
			return nil, err
		}
		slices.Reverse(evs) // newest first
		out = append(out, evs[:min(len(evs), limit-len(out))]...)
	}
	return out, nil
}

func readMatching(path string, q bus.AuditQuery) ([]bus.AuditEvent, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []bus.AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e bus.AuditEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || !matches(&e, q) {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func matches(e *bus.AuditEvent, q bus.AuditQuery) bool {
	return (q.From.IsZero() || !e.Time.Before(q.From)) && (q.To.IsZero() || e.Time.Before(q.To)) &&
		(q.ClientID == "" || e.ClientID == q.ClientID) && (q.Outcome == "" || e.Outcome == q.Outcome) &&
		(q.Kind == "" || e.Kind == q.Kind) && (q.RequestID == "" || e.RequestID == q.RequestID) &&
		(q.JobID == "" || e.JobID == q.JobID)
}

// Prune removes files last written before the cutoff (whole files: an
// event lives at most retention plus one file's lifetime).
func (s *fileStore) Prune(_ context.Context, before time.Time) (int64, error) {
	files, err := s.files()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	cur := ""
	if s.f != nil {
		cur = s.f.Name()
	}
	s.mu.Unlock()
	var n int64
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil || p == cur || !st.ModTime().Before(before) || !strings.HasSuffix(p, ".jsonl") {
			continue
		}
		if os.Remove(p) == nil {
			n++
		}
	}
	return n, nil
}

func (s *fileStore) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}
