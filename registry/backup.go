package registry

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Backup writes the local file cache in dir (index.json, hits.json and
// pkgs/<hash>) to w as a gzip'd tar archive.
func Backup(dir string, w io.Writer) (n int, err error) {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	add := func(rel string) error {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o640, Size: int64(len(b)), ModTime: time.Now()}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		n++
		return err
	}
	for _, f := range []string{"index.json", "hits.json"} {
		if err := add(f); err != nil {
			return n, err
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "pkgs"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return n, err
	}
	for _, e := range ents {
		if validHash(e.Name()) {
			if err := add(filepath.Join("pkgs", e.Name())); err != nil {
				return n, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return n, err
	}
	return n, zw.Close()
}

// Restore reads an archive made by Backup into dir. Every package is
// verified against keys first (when keys is not nil); a bad one stops the
// restore with the reason. It returns the number of files written.
func Restore(dir string, r io.Reader, keys Verifiers) (int, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("restore: %w", err)
		}
		if h.Size > 2*MaxPackageSize+(64<<20) {
			return n, fmt.Errorf("restore: %s too large", h.Name)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return n, fmt.Errorf("restore: %w", err)
		}
		var dst string
		switch {
		case h.Name == "index.json" || h.Name == "hits.json":
			dst = filepath.Join(dir, h.Name)
		case strings.HasPrefix(h.Name, "pkgs/") && validHash(strings.TrimPrefix(h.Name, "pkgs/")):
			hash := strings.TrimPrefix(h.Name, "pkgs/")
			if keys != nil {
				if _, err := Open(b, keys, hash); err != nil {
					return n, fmt.Errorf("restore %s: %w", h.Name, err)
				}
			}
			dst = filepath.Join(dir, "pkgs", hash)
		default:
			return n, fmt.Errorf("restore: unexpected entry %q", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return n, err
		}
		if err := writeFile(dst, b); err != nil {
			return n, err
		}
		n++
	}
}
