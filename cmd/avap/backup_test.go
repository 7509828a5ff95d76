package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

// runCLI runs the avap command line with no environment and returns its
// exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{start: time.Now(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		environ: func() []string { return nil }}
	code := a.main(t.Context(), args)
	return code, out.String(), errb.String()
}

func jsConnect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestBackupRestore backs up buckets and data_dir files of one server, then
// restores them into a fresh server and an empty data_dir.
func TestBackupRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	src := natstest.Run(t)
	js := jsConnect(t, src.ClientURL())
	want := map[string]map[string][]byte{
		bus.RegistryBucket: {"idx.greet": []byte(`{"name":"greet","versions":["1.0.0"]}`), "pkg.00ff": {0, 1, 2, 0xff}},
		bus.JobsBucket:     {"job1": []byte(`{"state":"done"}`), "job2": []byte(`{"state":"queued"}`)},
		bus.CommandsBucket: {"hello": []byte(`addResult("hi")`)},
	}
	for b, kvs := range want {
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b, History: 3})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range kvs {
			if _, err := kv.Put(ctx, k, []byte("old")); err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, k, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := kv.Put(ctx, "gone", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
	}
	// Ephemeral buckets are not backed up.
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bus.NoncesBucket}); err != nil {
		t.Fatal(err)
	}

	dataDir := t.TempDir()
	files := map[string]string{
		"registry/store/catalog.json": `{"revision":1}`,
		"registry/store/blobs/abc":    "envelope",
		"registry/cache/index.json":   `{}`,
		"registry/signing.pub":        "public",
		"api_keys.json":               `[]`,
	}
	for rel, body := range files {
		p := filepath.Join(dataDir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dataDir, "registry", "signing.key"), []byte("PRIVATE"), 0o600); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "avap.tar.gz")
	code, out, errs := runCLI(t, "backup", file, "--nats-url", src.ClientURL(), "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "3 buckets, 5 keys, 5 files") {
		t.Fatalf("backup output %q", out)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(gunzip(t, raw), []byte("PRIVATE")) {
		t.Fatal("backup contains the private signing key")
	}

	// A fresh server and an empty data dir.
	dst := natstest.Run(t)
	dstDir := filepath.Join(t.TempDir(), "data")
	code, out, errs = runCLI(t, "restore", file, "--dry-run", "--nats-url", dst.ClientURL(), "--data-dir", dstDir)
	if code != 0 {
		t.Fatalf("restore --dry-run: exit %d: %s", code, errs)
	}
	for _, s := range []string{"bucket avap_registry: 2 keys", "pkg.00ff (4 bytes)", "registry/store/blobs/abc"} {
		if !strings.Contains(out, s) {
			t.Errorf("dry run output lacks %q:\n%s", s, out)
		}
	}
	if _, err := os.Stat(dstDir); err == nil {
		t.Fatal("dry run wrote the data dir")
	}
	djs := jsConnect(t, dst.ClientURL())
	if _, err := djs.KeyValue(ctx, bus.JobsBucket); err == nil {
		t.Fatal("dry run created a bucket")
	}

	code, out, errs = runCLI(t, "restore", file, "--nats-url", dst.ClientURL(), "--data-dir", dstDir)
	if code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "restored 3 buckets, 5 keys, 5 files") {
		t.Fatalf("restore output %q", out)
	}
	for b, kvs := range want {
		kv, err := djs.KeyValue(ctx, b)
		if err != nil {
			t.Fatalf("bucket %s: %v", b, err)
		}
		if st, _ := kv.Status(ctx); st.History() != 3 {
			t.Errorf("bucket %s: history %d, want 3", b, st.History())
		}
		for k, v := range kvs {
			e, err := kv.Get(ctx, k)
			if err != nil {
				t.Fatalf("%s/%s: %v", b, k, err)
			}
			if !bytes.Equal(e.Value(), v) {
				t.Errorf("%s/%s = %q, want %q", b, k, e.Value(), v)
			}
		}
		if _, err := kv.Get(ctx, "gone"); err == nil {
			t.Errorf("%s: deleted key restored", b)
		}
	}
	if _, err := djs.KeyValue(ctx, bus.NoncesBucket); err == nil {
		t.Error("ephemeral nonces bucket restored")
	}
	for rel, body := range files {
		b, err := os.ReadFile(filepath.Join(dstDir, rel))
		if err != nil || string(b) != body {
			t.Errorf("%s = %q, %v; want %q", rel, b, err, body)
		}
	}
	if _, err := os.Stat(filepath.Join(dstDir, "registry", "signing.key")); err == nil {
		t.Error("private key restored")
	}

	// Restoring again over existing buckets is fine.
	if code, _, errs := runCLI(t, "restore", file, "--nats-url", dst.ClientURL(), "--data-dir", dstDir); code != 0 {
		t.Fatalf("second restore: exit %d: %s", code, errs)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// makeArchive builds a gzip'd tar of the given members in order.
func makeArchive(t *testing.T, members ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o600, Size: int64(len(m[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m[1])); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestReadBackupRejects(t *testing.T) {
	manifest := func(m backupManifest) string {
		b, _ := json.Marshal(m)
		return string(b)
	}
	good := manifest(backupManifest{Format: backupFormat, Buckets: []backupBucket{{Name: "avap_jobs", Keys: 1}}})
	full := makeArchive(t, [2]string{"manifest.json", good}, [2]string{"kv/avap_jobs/j1", strings.Repeat("x", 2000)})
	if _, err := readBackup(bytes.NewReader(full), 1<<20); err != nil {
		t.Fatalf("good archive: %v", err)
	}
	cases := []struct {
		name string
		in   []byte
		max  int64
		want string
	}{
		{"not gzip", []byte("hello, world"), 1 << 20, "not a gzip'd avap backup"},
		{"truncated", full[:len(full)/2], 1 << 20, "truncated"},
		{"oversized", full, 1000, "over the limit of 1000"},
		{"future format", makeArchive(t, [2]string{"manifest.json", manifest(backupManifest{Format: 99})}), 1 << 20, "format version 99 is not supported"},
		{"no manifest", makeArchive(t, [2]string{"kv/a/b", "x"}), 1 << 20, "not manifest.json"},
		{"missing keys", makeArchive(t, [2]string{"manifest.json", good}), 1 << 20, "manifest says 1"},
		{"unsafe path", makeArchive(t, [2]string{"manifest.json", manifest(backupManifest{Format: backupFormat, Files: 1})}, [2]string{"files/../../etc/passwd", "x"}), 1 << 20, "unsafe path"},
		{"unknown bucket", makeArchive(t, [2]string{"manifest.json", good}, [2]string{"kv/other/k", "x"}), 1 << 20, "not a key of a bucket"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBackup(bytes.NewReader(c.in), c.max)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
