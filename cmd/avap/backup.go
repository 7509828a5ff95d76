package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/avapmesh/avap/bus"
)

// backupFormat is the version of the archive layout written by `avap
// backup`; restore refuses any other.
//
// Layout (gzip'd tar, members in this order):
//
//	manifest.json            backupManifest
//	config.json              effective config by key, secrets redacted (reference only)
//	kv/<bucket>/<key>        latest value of each key of a state bucket
//	stream/<name>/<n>        n-th message of a state stream (format 2; backup_streams.go)
//	files/<rel>              a file under data_dir (see backupFileRoots)
//
// Format 1 archives (no streams) are still restored.
const backupFormat = 2

// defaultBackupMaxMember caps one archive member on restore.
const defaultBackupMaxMember = 256 << 20

// backupBuckets are the JetStream KV buckets that hold state. Ephemeral
// ones (nonces, idempotency, locks) are left out: they expire anyway.
func backupBuckets() []string {
	return []string{bus.RegistryBucket, bus.CommandsBucket, bus.ProjectsBucket, bus.JobsBucket, bus.KeysBucket}
}

// backupFileRoots are the paths under data_dir that are backed up when
// present: the registry's file store and signed-package cache (and its
// public key) and the local API-key file. Private keys (*.key) are
// secrets and never written to a backup.
func backupFileRoots() []string {
	return []string{"registry", "api_keys.json"}
}

type backupManifest struct {
	Format  int            `json:"format"`
	Created time.Time      `json:"created"`
	Version string         `json:"avap_version"`
	Node    string         `json:"node"`
	Buckets []backupBucket `json:"buckets"`
	Streams []backupStream `json:"streams,omitempty"`
	Files   int            `json:"files"`
}

// backupBucket is a bucket's settings, to create it on restore when missing.
type backupBucket struct {
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	History      uint8         `json:"history"`
	TTL          time.Duration `json:"ttl,omitempty"`
	MaxBytes     int64         `json:"max_bytes,omitempty"`
	MaxValueSize int32         `json:"max_value_size,omitempty"`
	Memory       bool          `json:"memory,omitempty"`
	Replicas     int           `json:"replicas,omitempty"`
	Keys         int           `json:"keys"`
}

func (b backupBucket) config() jetstream.KeyValueConfig {
	c := jetstream.KeyValueConfig{Bucket: b.Name, Description: b.Description, History: b.History,
		TTL: b.TTL, MaxBytes: b.MaxBytes, MaxValueSize: b.MaxValueSize, Replicas: b.Replicas}
	if b.Memory {
		c.Storage = jetstream.MemoryStorage
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = -1
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = -1
	}
	return c
}

// backupCounts is what a backup or restore covered.
type backupCounts struct{ Buckets, Keys, Files, Streams, Msgs int }

func (c backupCounts) String() string {
	return fmt.Sprintf("%d buckets, %d keys, %d files, %d streams, %d messages", c.Buckets, c.Keys, c.Files, c.Streams, c.Msgs)
}

// backupCommand is `avap backup FILE`.
func (a *app) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write the JetStream KV state and streams, registry files and redacted config to FILE (tar.gz)",
		Long: `backup connects to nats.url and writes to FILE a gzip'd tar with a manifest,
the effective configuration with secrets redacted (for reference; restore
never applies it), the latest value of every key of the state buckets
(` + strings.Join(backupBuckets(), ", ") + `), every message of the
job and audit streams (` + strings.Join(backupStreams(), ", ") + `:
queued jobs, dead letters, callbacks to deliver, audit events not yet
written) and the registry file store, signed-package cache and API-key
file under data_dir. Private signing keys are not included: keep them
with your other secrets.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, cfg, err := a.connectMesh()
			if err != nil {
				return err
			}
			defer nc.Close()
			n, err := writeBackup(cmd.Context(), nc, cfg, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s: %s\n", args[0], n)
			return nil
		},
	}
}

// restoreCommand is `avap restore FILE`.
func (a *app) restoreCommand() *cobra.Command {
	var dryRun bool
	var replicas int
	maxMember := ByteSize(defaultBackupMaxMember)
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore the KV buckets and data_dir files of a backup made by avap backup",
		Long: `restore reads the whole of FILE first and checks it (format version, sizes,
names); a corrupt or truncated file changes nothing. Then it creates missing
buckets and streams on nats.url, puts every key, publishes every stream
message again (queued jobs run once an executor is up) and writes the files
under data_dir. Buckets and streams it creates get the backup's replica
count capped to what the target supports (1 on a single server), or
--replicas; it prints each change. The configuration in the backup is not
applied. --dry-run only lists what would be restored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			b, err := readBackup(f, int64(maxMember))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if dryRun {
				res, err := a.loadConfig()
				if err != nil {
					return err
				}
				b.list(a.stdout, res.Config.DataDir)
				return nil
			}
			nc, cfg, err := a.connectMesh()
			if err != nil {
				return err
			}
			defer nc.Close()
			if replicas < 0 {
				return usageError{fmt.Errorf("--replicas %d: want 0 (as saved, capped to the target) or more", replicas)}
			}
			n, err := b.apply(cmd.Context(), nc, cfg.DataDir, restoreOptions{Replicas: replicas, Out: a.stdout})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored %s from %s (made %s by node %s, avap %s)\n", n, args[0],
				b.manifest.Created.Format(time.RFC3339), b.manifest.Node, b.manifest.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be restored and change nothing")
	cmd.Flags().Var(byteSizeFlag{&maxMember}, "max-member", "refuse archive members larger than this (e.g. 64MiB)")
	cmd.Flags().IntVar(&replicas, "replicas", 0, "replicas of the buckets and streams restore creates; 0 = as in the backup, capped to what the target supports")
	return cmd
}

// writeBackup writes the backup of nc's state buckets and cfg.DataDir's
// files to file (through a temporary file renamed into place).
func writeBackup(ctx context.Context, nc *nats.Conn, cfg *Config, file string) (backupCounts, error) {
	var n backupCounts
	tmp, err := os.CreateTemp(filepath.Dir(file), ".avap-backup-*")
	if err != nil {
		return n, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if n, err = backupTo(ctx, nc, cfg, tmp); err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), file)
}

// kvData is one bucket's keys and values, sorted by key.
type kvData struct {
	keys   []string
	values map[string][]byte
}

func backupTo(ctx context.Context, nc *nats.Conn, cfg *Config, w io.Writer) (backupCounts, error) {
	var n backupCounts
	js, err := jetstream.New(nc)
	if err != nil {
		return n, err
	}
	m := backupManifest{Format: backupFormat, Created: time.Now().UTC(), Version: readBuildInfo().Version, Node: cfg.Node.ID}
	data := map[string]kvData{}
	for _, name := range backupBuckets() {
		kv, err := js.KeyValue(ctx, name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("bucket %s: %w", name, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return n, fmt.Errorf("bucket %s: %w", name, err)
		}
		c := st.Config()
		d := kvData{values: map[string][]byte{}}
		lister, err := kv.ListKeys(ctx)
		if err != nil {
			return n, fmt.Errorf("bucket %s: list keys: %w", name, err)
		}
		for k := range lister.Keys() {
			d.keys = append(d.keys, k)
		}
		_ = lister.Stop()                 // already stopped once all keys were listed
		if err := ctx.Err(); err != nil { // the listing stops early on cancel
			return n, fmt.Errorf("bucket %s: list keys: %w", name, err)
		}
		sort.Strings(d.keys)
		kept := d.keys[:0]
		for _, k := range d.keys {
			e, err := kv.Get(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
				continue // deleted since it was listed
			}
			if err != nil {
				return n, fmt.Errorf("bucket %s: get %s: %w", name, k, err)
			}
			d.values[k] = e.Value()
			kept = append(kept, k)
		}
		d.keys = kept
		data[name] = d
		m.Buckets = append(m.Buckets, backupBucket{Name: name, Description: c.Description, History: c.History,
			TTL: c.TTL, MaxBytes: c.MaxBytes, MaxValueSize: c.MaxValueSize, Memory: c.Storage == jetstream.MemoryStorage,
			Replicas: c.Replicas, Keys: len(d.keys)})
		n.Buckets++
		n.Keys += len(d.keys)
	}
	streams := map[string]streamData{}
	for _, name := range backupStreams() {
		bs, msgs, ok, err := readStream(ctx, js, name)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		streams[name] = msgs
		m.Streams = append(m.Streams, *bs)
		n.Streams++
		n.Msgs += len(msgs)
	}
	files, err := collectBackupFiles(cfg.DataDir)
	if err != nil {
		return n, err
	}
	m.Files = len(files)
	n.Files = len(files)

	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: m.Created, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := add("manifest.json", mb); err != nil {
		return n, err
	}
	cb, _ := json.MarshalIndent(digestValues(cfg), "", "  ")
	if err := add("config.json", cb); err != nil {
		return n, err
	}
	for _, bk := range m.Buckets {
		d := data[bk.Name]
		for _, k := range d.keys {
			if err := add("kv/"+bk.Name+"/"+k, d.values[k]); err != nil {
				return n, err
			}
		}
	}
	for _, bs := range m.Streams {
		for i, msg := range streams[bs.Config.Name] {
			mb, err := json.Marshal(msg)
			if err != nil {
				return n, err
			}
			if err := add(streamMember(bs.Config.Name, i+1), mb); err != nil {
				return n, err
			}
		}
	}
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, filepath.FromSlash(rel)))
		if err != nil {
			return n, err
		}
		if err := add("files/"+rel, b); err != nil {
			return n, err
		}
	}
	if err := tw.Close(); err != nil {
		return n, err
	}
	return n, zw.Close()
}

// collectBackupFiles lists the regular files of backupFileRoots under
// dataDir, slash-separated and relative to it.
func collectBackupFiles(dataDir string) ([]string, error) {
	var out []string
	for _, root := range backupFileRoots() {
		err := filepath.WalkDir(filepath.Join(dataDir, root), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() || strings.HasSuffix(d.Name(), ".key") || strings.HasPrefix(d.Name(), ".tmp") {
				return nil
			}
			rel, err := filepath.Rel(dataDir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data_dir: %w", err)
		}
	}
	return out, nil
}

// backupArchive is a backup read and checked in full.
type backupArchive struct {
	manifest backupManifest
	kv       map[string]kvData // by bucket
	streams  map[string]streamData
	files    []string          // slash-separated, relative to data_dir
	contents map[string][]byte // by file
}

// readBackup reads and checks a whole backup; nothing is applied.
func readBackup(r io.Reader, maxMember int64) (*backupArchive, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip'd avap backup: %w", err)
	}
	tr := tar.NewReader(zr)
	b := &backupArchive{kv: map[string]kvData{}, streams: map[string]streamData{}, contents: map[string][]byte{}}
	known := map[string]bool{}
	knownStreams := map[string]bool{}
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			if i == 0 {
				return nil, errors.New("empty archive, not an avap backup")
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("corrupt or truncated backup: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("member %q: not a regular file", h.Name)
		}
		if h.Size > maxMember {
			return nil, fmt.Errorf("member %q is %d bytes, over the limit of %d (--max-member)", h.Name, h.Size, maxMember)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxMember+1))
		if err != nil {
			return nil, fmt.Errorf("corrupt or truncated backup: member %q: %w", h.Name, err)
		}
		if i == 0 {
			if h.Name != "manifest.json" {
				return nil, fmt.Errorf("first member is %q, not manifest.json: not an avap backup", h.Name)
			}
			if err := json.Unmarshal(data, &b.manifest); err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			if b.manifest.Format < 1 || b.manifest.Format > backupFormat {
				return nil, fmt.Errorf("backup format version %d is not supported (this avap reads versions 1 to %d)", b.manifest.Format, backupFormat)
			}
			for _, bk := range b.manifest.Buckets {
				known[bk.Name] = true
			}
			for _, bs := range b.manifest.Streams {
				if bs.Config.Name == "" || knownStreams[bs.Config.Name] {
					return nil, fmt.Errorf("manifest.json: stream name %q empty or repeated", bs.Config.Name)
				}
				knownStreams[bs.Config.Name] = true
			}
			continue
		}
		switch {
		case h.Name == "config.json":
			// for reference only
		case strings.HasPrefix(h.Name, "kv/"):
			bucket, key, ok := strings.Cut(strings.TrimPrefix(h.Name, "kv/"), "/")
			if !ok || !known[bucket] || !validKVKey(key) {
				return nil, fmt.Errorf("member %q: not a key of a bucket in the manifest", h.Name)
			}
			d := b.kv[bucket]
			if d.values == nil {
				d.values = map[string][]byte{}
			}
			d.keys = append(d.keys, key)
			d.values[key] = data
			b.kv[bucket] = d
		case strings.HasPrefix(h.Name, "stream/"):
			stream, msg, err := parseStreamMember(h.Name, data, knownStreams)
			if err != nil {
				return nil, err
			}
			b.streams[stream] = append(b.streams[stream], msg)
		case strings.HasPrefix(h.Name, "files/"):
			rel := strings.TrimPrefix(h.Name, "files/")
			if !filepath.IsLocal(filepath.FromSlash(rel)) || path.Clean(rel) != rel {
				return nil, fmt.Errorf("member %q: unsafe path", h.Name)
			}
			b.files = append(b.files, rel)
			b.contents[rel] = data
		default:
			return nil, fmt.Errorf("member %q: unknown", h.Name)
		}
	}
	for _, bk := range b.manifest.Buckets {
		if got := len(b.kv[bk.Name].keys); got != bk.Keys {
			return nil, fmt.Errorf("bucket %s: %d keys in the archive, manifest says %d (truncated?)", bk.Name, got, bk.Keys)
		}
	}
	for _, bs := range b.manifest.Streams {
		if got := len(b.streams[bs.Config.Name]); got != bs.Msgs {
			return nil, fmt.Errorf("stream %s: %d messages in the archive, manifest says %d (truncated?)", bs.Config.Name, got, bs.Msgs)
		}
	}
	if len(b.files) != b.manifest.Files {
		return nil, fmt.Errorf("%d files in the archive, manifest says %d (truncated?)", len(b.files), b.manifest.Files)
	}
	return b, nil
}

// validKVKey reports whether k is a valid JetStream KV key.
func validKVKey(k string) bool {
	if k == "" || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-/_=.", c)) {
			return false
		}
	}
	return true
}

// list prints what apply would restore.
func (b *backupArchive) list(w io.Writer, dataDir string) {
	m := b.manifest
	fmt.Fprintf(w, "backup format %d, made %s by node %s, avap %s\n", m.Format, m.Created.Format(time.RFC3339), m.Node, m.Version)
	for _, bk := range m.Buckets {
		fmt.Fprintf(w, "bucket %s: %d keys\n", bk.Name, bk.Keys)
		for _, k := range b.kv[bk.Name].keys {
			fmt.Fprintf(w, "  %s (%d bytes)\n", k, len(b.kv[bk.Name].values[k]))
		}
	}
	for _, bs := range m.Streams {
		fmt.Fprintf(w, "stream %s: %d messages (%d replicas in the backup)\n", bs.Config.Name, bs.Msgs, max(bs.Config.Replicas, 1))
	}
	fmt.Fprintf(w, "files under %s: %d\n", dataDir, len(b.files))
	for _, f := range b.files {
		fmt.Fprintf(w, "  %s (%d bytes)\n", f, len(b.contents[f]))
	}
}

// apply creates missing buckets and streams, puts every key, publishes
// every stream message and writes the files. Job records (buckets) go in
// before their queue messages (streams).
func (b *backupArchive) apply(ctx context.Context, nc *nats.Conn, dataDir string, opts restoreOptions) (backupCounts, error) {
	var n backupCounts
	js, err := jetstream.New(nc)
	if err != nil {
		return n, err
	}
	target := targetReplicas(nc)
	for _, bk := range b.manifest.Buckets {
		kv, err := js.KeyValue(ctx, bk.Name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			c := bk.config()
			c.Replicas = opts.replicasFor("bucket", bk.Name, c.Replicas, target)
			kv, err = js.CreateKeyValue(ctx, c)
		}
		if err != nil {
			return n, fmt.Errorf("bucket %s: %w", bk.Name, err)
		}
		for _, k := range b.kv[bk.Name].keys {
			if _, err := kv.Put(ctx, k, b.kv[bk.Name].values[k]); err != nil {
				return n, fmt.Errorf("bucket %s: put %s: %w", bk.Name, k, err)
			}
			n.Keys++
		}
		n.Buckets++
	}
	for _, bs := range b.manifest.Streams {
		stored, err := restoreStream(ctx, js, bs, b.streams[bs.Config.Name], opts, target)
		n.Msgs += stored
		if err != nil {
			return n, err
		}
		if dup := bs.Msgs - stored; dup > 0 {
			opts.note("stream %s: %d of %d messages already there (de-duplicated)", bs.Config.Name, dup, bs.Msgs)
		}
		n.Streams++
	}
	for _, rel := range b.files {
		p := filepath.Join(dataDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return n, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-restore-*")
		if err != nil {
			return n, err
		}
		_, err = tmp.Write(b.contents[rel])
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), p)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return n, fmt.Errorf("restore %s: %w", rel, err)
		}
		n.Files++
	}
	return n, nil
}
