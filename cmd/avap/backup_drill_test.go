package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/nats/natstest"
)

// drillServer starts a NATS server on a random loopback port with its
// JetStream store in store (which the drill wipes).
func drillServer(t *testing.T, store string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, JetStream: true, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// TestBackupRestoreDrill is the restore drill of deploy/README.md: job
// state (a queued and a finished job, their records and the queued job's
// message), a pending audit event and the registry (bucket and files)
// are backed up, the data dir (JetStream store included) is wiped, and
// restore brings all of it back.
func TestBackupRestoreDrill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	store := filepath.Join(dataDir, "jetstream")
	srv := drillServer(t, store)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := bus.OpenJobs(ctx, nc, bus.JobsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	request := []byte("msgpack request of q1")
	if _, _, err := jobs.Submit(ctx, bus.JobSubmission{ID: "q1", Request: request, RequestID: "req-q1"}); err != nil {
		t.Fatal(err)
	}
	// d1 ran: its message was consumed and its record holds the result.
	if _, _, err := jobs.Submit(ctx, bus.JobSubmission{ID: "d1", Priority: bus.PriorityHigh, Request: []byte("d1")}); err != nil {
		t.Fatal(err)
	}
	high, err := jobs.Consumer(ctx, bus.PriorityHigh)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := high.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := jobs.Update(ctx, "d1", func(r *bus.JobRecord) error {
		r.State = bus.JobSucceeded
		r.Reply = &bus.JobReply{Success: true, Status: 200, Result: json.RawMessage(`{"answer":42}`)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// An audit event no sink has written yet.
	if _, err := bus.EnsureAuditStream(ctx, js, bus.AuditStreamConfig{}); err != nil {
		t.Fatal(err)
	}
	subj, _ := bus.AuditSubject(bus.AuditSync)
	if _, err := js.Publish(ctx, subj, []byte(`{"id":"ev1","kind":"sync"}`), jetstream.WithMsgID("ev1")); err != nil {
		t.Fatal(err)
	}
	// The registry: its bucket and its file store.
	reg, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bus.RegistryBucket})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Put(ctx, "idx.greet", []byte(`{"versions":["1.0.0"]}`)); err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(dataDir, "registry", "store", "catalog.json")
	if err := os.MkdirAll(filepath.Dir(catalog), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(catalog, []byte(`{"revision":7}`), 0o600); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "drill.tar.gz")
	code, out, errs := runCLI(t, "backup", file, "--nats-url", srv.ClientURL(), "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errs)
	}
	// 5 job/audit streams + callbacks: the high queue and the DLQ are empty.
	if !strings.Contains(out, "6 streams, 2 messages") {
		t.Fatalf("backup output %q, want 6 streams, 2 messages (q1 and ev1)", out)
	}

	// Disaster: the node and its whole data dir are gone.
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	srv = drillServer(t, store)

	code, out, errs = runCLI(t, "restore", file, "--nats-url", srv.ClientURL(), "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "restored 2 buckets, 3 keys, 1 files, 6 streams, 2 messages") {
		t.Fatalf("restore output %q", out)
	}
	// Restoring again (within the de-duplication window) adds no copies.
	code, out, errs = runCLI(t, "restore", file, "--nats-url", srv.ClientURL(), "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "0 messages") || !strings.Contains(out, "already there") {
		t.Fatalf("second restore: exit %d, %q %s", code, out, errs)
	}

	nc2, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	jobs2, err := bus.OpenJobs(ctx, nc2, bus.JobsConfig{}) // what an edge or executor does at start
	if err != nil {
		t.Fatal(err)
	}
	q1, _, err := jobs2.Get(ctx, "q1")
	if err != nil || q1.State != bus.JobQueued || q1.RequestID != "req-q1" {
		t.Fatalf("q1 after restore: %+v, %v", q1, err)
	}
	d1, _, err := jobs2.Get(ctx, "d1")
	if err != nil || d1.State != bus.JobSucceeded || d1.Reply == nil || string(d1.Reply.Result) != `{"answer":42}` {
		t.Fatalf("d1 after restore: %+v, %v", d1, err)
	}
	// The queued job is on its queue again, once, for an executor to run.
	normal, err := jobs2.Consumer(ctx, bus.PriorityNormal)
	if err != nil {
		t.Fatal(err)
	}
	batch, err = normal.Fetch(2, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	if len(got) != 1 || got[0].Headers().Get(bus.HeaderJobID) != "q1" || !bytes.Equal(got[0].Data(), request) {
		t.Fatalf("normal queue after restore: %d messages, want q1 once", len(got))
	}
	js2, _ := jetstream.New(nc2)
	if s, err := js2.Stream(ctx, bus.AuditStream); err != nil {
		t.Fatalf("audit stream: %v", err)
	} else if m, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(">")); err != nil || !strings.Contains(string(m.Data), `"ev1"`) {
		t.Fatalf("audit event after restore: %v", err)
	}
	reg2, err := js2.KeyValue(ctx, bus.RegistryBucket)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := reg2.Get(ctx, "idx.greet"); err != nil || string(e.Value()) != `{"versions":["1.0.0"]}` {
		t.Fatalf("registry key after restore: %v", err)
	}
	if b, err := os.ReadFile(catalog); err != nil || string(b) != `{"revision":7}` {
		t.Fatalf("registry file after restore: %q, %v", b, err)
	}
}

// TestRestoreCapsReplicas restores a backup made on an R3 cluster onto a
// single server.
func TestRestoreCapsReplicas(t *testing.T) {
	m := backupManifest{Format: backupFormat,
		Buckets: []backupBucket{{Name: bus.JobsBucket, History: 1, Replicas: 3, Keys: 1}},
		Streams: []backupStream{{Config: jetstream.StreamConfig{Name: bus.AuditStream, Subjects: []string{bus.AuditSubjectPrefix + ".>"},
			Retention: jetstream.WorkQueuePolicy, Replicas: 3, Metadata: map[string]string{"_nats.req.level": "1", "team": "ops"}}, Msgs: 1}},
	}
	mb, _ := json.Marshal(m)
	msg, _ := json.Marshal(backupMsg{Subject: bus.AuditSubjectPrefix + ".sync", Header: nats.Header{"Nats-Msg-Id": {"ev9"}}, Data: []byte("ev9")})
	archive := makeArchive(t, [2]string{"manifest.json", string(mb)}, [2]string{"kv/avap_jobs/j1", `{"state":"queued"}`},
		[2]string{streamMember(bus.AuditStream, 1), string(msg)})
	file := filepath.Join(t.TempDir(), "r3.tar.gz")
	if err := os.WriteFile(file, archive, 0o600); err != nil {
		t.Fatal(err)
	}

	// Asking for more replicas than a single server has fails, changing nothing it cannot.
	one := natstest.Run(t)
	code, _, errs := runCLI(t, "restore", file, "--replicas", "3", "--nats-url", one.ClientURL(), "--data-dir", t.TempDir())
	if code == 0 {
		t.Fatal("restore --replicas 3 on a single server succeeded")
	}
	if !strings.Contains(errs, "bucket avap_jobs") {
		t.Errorf("error %q does not name the bucket", errs)
	}

	dst := natstest.Run(t)
	code, out, errs := runCLI(t, "restore", file, "--nats-url", dst.ClientURL(), "--data-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"bucket avap_jobs: 1 replicas instead of the backup's 3 (the target supports 1",
		"stream AVAP_AUDIT: 1 replicas instead of the backup's 3",
		"restored 1 buckets, 1 keys, 0 files, 1 streams, 1 messages",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}
	js := jsConnect(t, dst.ClientURL())
	s, err := js.Stream(t.Context(), bus.AuditStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 || info.State.Msgs != 1 || info.Config.Metadata["team"] != "ops" {
		t.Errorf("stream: replicas %d, %d messages, metadata %v", info.Config.Replicas, info.State.Msgs, info.Config.Metadata)
	}
}

func TestReadBackupRejectsStreams(t *testing.T) {
	mb, _ := json.Marshal(backupManifest{Format: backupFormat, Streams: []backupStream{{Config: jetstream.StreamConfig{Name: "AVAP_AUDIT"}, Msgs: 1}}})
	good, _ := json.Marshal(backupMsg{Subject: "avap.audit.v1.event.sync", Data: []byte("x")})
	for name, c := range map[string]struct {
		members [][2]string
		want    string
	}{
		"missing message":  {[][2]string{{"manifest.json", string(mb)}}, "manifest says 1"},
		"unknown stream":   {[][2]string{{"manifest.json", string(mb)}, {"stream/OTHER/0000000001", string(good)}}, "not a message of a stream"},
		"bad index":        {[][2]string{{"manifest.json", string(mb)}, {"stream/AVAP_AUDIT/x", string(good)}}, "not a message of a stream"},
		"wildcard subject": {[][2]string{{"manifest.json", string(mb)}, {"stream/AVAP_AUDIT/0000000001", `{"subject":"avap.>"}`}}, "invalid subject"},
		"not json":         {[][2]string{{"manifest.json", string(mb)}, {"stream/AVAP_AUDIT/0000000001", `{`}}, "stream/AVAP_AUDIT/0000000001"},
	} {
		_, err := readBackup(bytes.NewReader(makeArchive(t, c.members...)), 1<<20)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
	// A format 1 archive (no streams) still reads.
	old, _ := json.Marshal(backupManifest{Format: 1})
	if _, err := readBackup(bytes.NewReader(makeArchive(t, [2]string{"manifest.json", string(old)})), 1<<20); err != nil {
		t.Errorf("format 1: %v", err)
	}
}
