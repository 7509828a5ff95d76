package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natstest "github.com/avapmesh/avap/nats/natstest"
	"github.com/avapmesh/avap/registry"
	"github.com/avapmesh/avap/vm"
)

func newKey(t testing.TB, name string) (registry.Signer, string) {
	t.Helper()
	skey, vkey, err := registry.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func keyring(t testing.TB, vkeys ...string) *registry.Keyring {
	t.Helper()
	k, err := registry.NewKeyring(vkeys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const mathV1 = "function double(x) {\n  return(x * 2)\n}\n"

func build(t testing.TB, name, version, kind, src string, imp vm.Importer) *registry.Package {
	t.Helper()
	p, err := registry.Build(context.Background(), []byte(src), registry.BuildOptions{Name: name, Version: version, Kind: kind, Importer: imp})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seal(t testing.TB, p *registry.Package, s registry.Signer) ([]byte, string) {
	t.Helper()
	env, hash, err := registry.Seal(p, s)
	if err != nil {
		t.Fatal(err)
	}
	return env, hash
}

func TestKeysAndSignatures(t *testing.T) {
	s, vkey := newKey(t, "avap-test")
	skey, _, _ := registry.GenerateKey(rand.Reader, "other")
	if _, err := registry.NewVerifier(skey); !errors.Is(err, registry.ErrMalformedKey) || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("private key as verifier: %v", err)
	}
	if _, err := registry.NewSigner(vkey); !errors.Is(err, registry.ErrMalformedKey) {
		t.Fatalf("public key as signer: %v", err)
	}
	if pk, _ := registry.PublicKey(s); pk != vkey {
		t.Fatalf("PublicKey %q != %q", pk, vkey)
	}
	p := build(t, "math", "1.0.0", registry.KindLibrary, mathV1, nil)
	env, hash := seal(t, p, s)
	v, err := registry.Open(env, keyring(t, vkey), hash)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "math" || v.Version != "1.0.0" || len(v.Interface) != 1 || v.Interface[0].Name != "double" || v.Interface[0].Params[0] != "x" {
		t.Fatalf("opened %+v", v.Package)
	}
	if v.BytecodeVersion != vm.BytecodeVersion {
		t.Fatal("bytecode version")
	}
	if _, err := v.Program(); err != nil {
		t.Fatal(err)
	}

	// Unknown key.
	_, other := newKey(t, "other")
	var uk *registry.UnknownVerifierError
	if _, err := registry.Open(env, keyring(t, other), ""); !errors.As(err, &uk) || !errors.Is(err, registry.ErrVerify) {
		t.Fatalf("unknown key: %v", err)
	}
	// Tampered body: flip one byte of the decoded body.
	lines := strings.SplitN(string(env), "\n", 3)
	body, _ := base64.StdEncoding.DecodeString(lines[1])
	body[len(body)/2] ^= 1
	bad := lines[0] + "\n" + base64.StdEncoding.EncodeToString(body) + "\n" + lines[2]
	var is *registry.InvalidSignatureError
	if _, err := registry.Open([]byte(bad), keyring(t, vkey), ""); !errors.As(err, &is) {
		t.Fatalf("tampered: %v", err)
	}
	// Unsigned.
	unsigned := lines[0] + "\n" + lines[1] + "\n\n"
	if _, err := registry.Open([]byte(unsigned), keyring(t, vkey), ""); !errors.Is(err, registry.ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	// Wrong hash.
	if _, err := registry.Open(env, keyring(t, vkey), strings.Repeat("0", 64)); !errors.Is(err, registry.ErrHashMismatch) {
		t.Fatalf("hash: %v", err)
	}
	// Garbage.
	if _, err := registry.Open([]byte("nonsense"), keyring(t, vkey), ""); !errors.Is(err, registry.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	// Rotation: two trusted keys, a package signed by either opens.
	s2, vkey2 := newKey(t, "avap-test-2026")
	env2, _ := seal(t, p, s2)
	kr := keyring(t, vkey, vkey2)
	for _, e := range [][]byte{env, env2} {
		if _, err := registry.Open(e, kr, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolve(t *testing.T) {
	es := []registry.Entry{
		{Name: "m", Version: "1.0.0", Status: registry.StatusActive},
		{Name: "m", Version: "1.2.0", Status: registry.StatusActive},
		{Name: "m", Version: "1.3.1", Status: registry.StatusDeprecated, Reason: "use 2"},
		{Name: "m", Version: "1.4.0", Status: registry.StatusRevoked},
		{Name: "m", Version: "2.0.0", Status: registry.StatusActive},
		{Name: "m", Version: "2.1.0-beta.1", Status: registry.StatusActive},
	}
	for _, tc := range []struct{ c, want, warn, err string }{
		{"", "2.0.0", "", ""},
		{"^1.2", "1.3.1", "deprecated: use 2", ""},
		{"~1.2", "1.2.0", "", ""},
		{"1.0.0", "1.0.0", "", ""},
		{"1.4.0", "", "", "revoked"},
		{"^3", "", "", "no version"},
		{">=2.1.0-0", "2.1.0-beta.1", "", ""},
		{"^^", "", "", "version range"},
	} {
		e, warn, err := registry.Resolve(es, "m", tc.c)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.c, err, tc.err)
			}
			continue
		}
		if err != nil || e.Version != tc.want || !strings.Contains(warn, tc.warn) || (tc.warn == "" && warn != "") {
			t.Errorf("%q: %s %q %v, want %s %q", tc.c, e.Version, warn, err, tc.want, tc.warn)
		}
	}
}

// pgStore opens a PostgresStore in a fresh schema dropped after the test.
func pgStore(t *testing.T) *registry.PostgresStore {
	t.Helper()
	dsn := os.Getenv("AVAP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("AVAP_TEST_POSTGRES_DSN not set")
	}
	schema := fmt.Sprintf("regtest_%d_%s", time.Now().UnixNano()%1e9, hex.EncodeToString(randBytes(3)))
	ctx := context.Background()
	s, err := registry.OpenPostgres(ctx, registry.PostgresOptions{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		pool, err := pgxpool.New(ctx, dsn)
		if err == nil {
			_, _ = pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			pool.Close()
		}
	})
	return s
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func record(t testing.TB, env []byte, hash string, p *registry.Package) *registry.Record {
	return &registry.Record{Entry: registry.Entry{Name: p.Name, Version: p.Version, Kind: p.Kind, Hash: hash, KeyID: "k"}, Envelope: env}
}

func testStore(t *testing.T, st registry.Store) {
	ctx := context.Background()
	s, _ := newKey(t, "k")
	p1 := build(t, "math", "1.0.0", registry.KindLibrary, mathV1, nil)
	env1, h1 := seal(t, p1, s)
	e1, err := st.Publish(ctx, record(t, env1, h1, p1))
	if err != nil {
		t.Fatal(err)
	}
	if e1.Revision <= 0 || e1.Status != registry.StatusActive {
		t.Fatalf("entry %+v", e1)
	}
	again, err := st.Publish(ctx, record(t, env1, h1, p1)) // idempotent
	if err != nil || again.Revision != e1.Revision {
		t.Fatalf("republish: %+v %v", again, err)
	}
	p1b := build(t, "math", "1.0.0", registry.KindLibrary, mathV1+"\n", nil)
	env1b, h1b := seal(t, p1b, s)
	if _, err := st.Publish(ctx, record(t, env1b, h1b, p1b)); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("different content: %v", err)
	}
	p2 := build(t, "math", "1.1.0", registry.KindLibrary, mathV1+"function triple(x) {\n  return(x * 3)\n}\n", nil)
	env2, h2 := seal(t, p2, s)
	e2, err := st.Publish(ctx, record(t, env2, h2, p2))
	if err != nil || e2.Revision <= e1.Revision {
		t.Fatalf("publish 1.1.0: %+v %v", e2, err)
	}
	r, err := st.Get(ctx, "math", "1.1.0")
	if err != nil || !bytes.Equal(r.Envelope, env2) || r.Hash != h2 {
		t.Fatalf("get: %v", err)
	}
	if r, err := st.GetByHash(ctx, h1); err != nil || r.Version != "1.0.0" {
		t.Fatalf("get by hash: %v", err)
	}
	if _, err := st.Get(ctx, "math", "9.0.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	l, err := st.List(ctx, "math")
	if err != nil || len(l) != 2 || l[0].Version != "1.0.0" {
		t.Fatalf("list: %+v %v", l, err)
	}
	rv, err := st.SetStatus(ctx, "math", "1.0.0", registry.StatusRevoked, "bug")
	if err != nil || rv.Status != registry.StatusRevoked || rv.Revision <= e2.Revision || rv.Reason != "bug" {
		t.Fatalf("revoke: %+v %v", rv, err)
	}
	since, cur, err := st.Since(ctx, e2.Revision)
	if err != nil || len(since) != 1 || since[0].Version != "1.0.0" || cur != rv.Revision {
		t.Fatalf("since: %+v %d %v", since, cur, err)
	}
	if _, err := st.SetStatus(ctx, "nope", "1.0.0", registry.StatusRevoked, ""); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("revoke missing: %v", err)
	}
}

func TestPostgresStore(t *testing.T) {
	st := pgStore(t)
	// Migrations are applied from an empty schema; the tables exist.
	var n int
	if err := st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM registry_schema_migrations WHERE version_id > 0").Scan(&n); err != nil || n != 1 {
		t.Fatalf("migrations: %d %v", n, err)
	}
	testStore(t, st)
	var events int
	if err := st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM registry_events").Scan(&events); err != nil || events != 3 {
		t.Fatalf("events: %d %v", events, err)
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	st, err := registry.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, st)
	st2, err := registry.OpenFileStore(dir) // reopens with the same catalogue
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := st2.List(context.Background(), ""); len(l) != 2 {
		t.Fatalf("reopened: %+v", l)
	}
}

// mesh is a NATS server with a registry service.
type mesh struct {
	url    string
	nc     *nats.Conn
	srv    *registry.Server
	signer registry.Signer
	vkey   string
	keys   *registry.Keyring
	bucket string
	client *registry.Client
	audit  chan registry.AuditEvent
}

func startMesh(t *testing.T, st registry.Store) *mesh { return startMeshTB(t, st) }

func startMeshTB(t testing.TB, st registry.Store) *mesh {
	t.Helper()
	ns := natstest.Run(t)
	m := &mesh{url: ns.ClientURL(), bucket: "avap_registry_test", audit: make(chan registry.AuditEvent, 100)}
	m.nc = connect(t, m.url)
	m.signer, m.vkey = newKey(t, "test")
	m.keys = keyring(t, m.vkey)
	srv, err := registry.NewServer(registry.ServerOptions{Conn: m.nc, Store: st, Trusted: m.keys, Signer: m.signer, Bucket: m.bucket,
		Audit: func(e registry.AuditEvent) {
			select {
			case m.audit <- e:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	m.srv = srv
	m.client = registry.NewClient(m.nc, 0)
	return m
}

func connect(t testing.TB, url string) *nats.Conn {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (m *mesh) executor(t *testing.T, dir string, audit func(registry.AuditEvent)) *registry.Cache {
	t.Helper()
	c, err := registry.NewCache(registry.CacheOptions{Conn: connect(t, m.url), Trusted: m.keys, Dir: dir, Bucket: m.bucket, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return c
}

func (m *mesh) publish(t *testing.T, name, version, kind, src string) registry.Entry {
	t.Helper()
	p := build(t, name, version, kind, src, nil)
	env, _ := seal(t, p, m.signer)
	e, err := m.client.Publish(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func run(t *testing.T, c *registry.Cache, src string) (string, []string, error) {
	t.Helper()
	p, err := vm.CompileContext(context.Background(), "main.avap", []byte(src), vm.CompileOptions{Importer: c})
	if err != nil {
		return "", nil, err
	}
	res, err := vm.NewMachine().Run(context.Background(), p, &vm.Input{}, vm.Limits{})
	if err != nil {
		return "", nil, err
	}
	return string(res.Result), p.Warnings(), nil
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func TestServiceAndCaches(t *testing.T) {
	m := startMesh(t, pgOrFile(t))
	ctx := context.Background()
	m.publish(t, "math", "1.0.0", registry.KindLibrary, mathV1)
	ex1 := m.executor(t, t.TempDir(), nil)
	ex2 := m.executor(t, t.TempDir(), nil)
	script := "import(\"math@^1\")\nr = double(21)\naddResult(r)\n"
	for _, ex := range []*registry.Cache{ex1, ex2} {
		got, _, err := run(t, ex, script)
		if err != nil || got != `{"r":42}` {
			t.Fatalf("run: %s %v", got, err)
		}
	}
	// Publish 1.1.0: both executors see it without restart.
	g1, g2 := ex1.Generation(), ex2.Generation()
	start := time.Now()
	m.publish(t, "math", "1.1.0", registry.KindLibrary, "function double(x) {\n  return(x * 2 + 1)\n}\n")
	waitFor(t, "1.1.0 on both executors", time.Second, func() bool { return ex1.Generation() > g1 && ex2.Generation() > g2 })
	t.Logf("propagation of 1.1.0 to two executors: %v", time.Since(start))
	for _, ex := range []*registry.Cache{ex1, ex2} {
		if got, _, err := run(t, ex, script); err != nil || got != `{"r":43}` {
			t.Fatalf("after 1.1.0: %s %v", got, err)
		}
	}
	// Deprecate: a warning for the logs.
	if _, err := m.client.SetStatus(ctx, "math", "1.1.0", registry.StatusDeprecated, "use 2.x"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deprecation", time.Second, func() bool {
		_, w, _ := ex1.Resolve(ctx, "math", "^1")
		return w != ""
	})
	if _, warns, err := run(t, ex1, script); err != nil || len(warns) != 1 || !strings.Contains(warns[0], "math@1.1.0 is deprecated: use 2.x") {
		t.Fatalf("deprecated: %q %v", warns, err)
	}
	// Revoke both: refused on every executor within 1 s.
	start = time.Now()
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if _, err := m.client.SetStatus(ctx, "math", v, registry.StatusRevoked, "security"); err != nil {
			t.Fatal(err)
		}
	}
	for _, ex := range []*registry.Cache{ex1, ex2} {
		waitFor(t, "revocation", time.Second, func() bool {
			_, _, err := run(t, ex, script)
			return errors.Is(err, registry.ErrRevoked) || (err != nil && strings.Contains(err.Error(), "revoked"))
		})
	}
	t.Logf("revocation on two executors: %v", time.Since(start))

	// list and sync through the service.
	l, err := m.client.List(ctx, "math")
	if err != nil || len(l.Entries) != 2 {
		t.Fatalf("list: %+v %v", l, err)
	}
	s, err := m.client.Sync(ctx, l.Revision-1)
	if err != nil || len(s.Entries) != 1 {
		t.Fatalf("sync: %+v %v", s, err)
	}
	// Publishing an unsigned or foreign package is refused.
	foreign, _ := newKey(t, "evil")
	env, _ := seal(t, build(t, "evil", "1.0.0", registry.KindLibrary, mathV1, nil), foreign)
	if _, err := m.client.Publish(ctx, env); !errors.Is(err, registry.ErrVerify) {
		t.Fatalf("foreign key: %v", err)
	}
	// Server-side build and sign of a script (/api/v1/compile), with an import.
	m.publish(t, "strs", "1.0.0", registry.KindLibrary, "function hi(n) {\n  return(\"hi \" + n)\n}\n")
	e, err := m.client.PublishScript(ctx, registry.ScriptRequest{Name: "greet", Source: []byte("import(\"strs\")\nr = hi(\"ann\")\naddResult(r)\n")})
	if err != nil || e.Version != "1.0.0" {
		t.Fatalf("publish script: %+v %v", e, err)
	}
	e, err = m.client.PublishScript(ctx, registry.ScriptRequest{Name: "greet", Source: []byte("addResult(x)\n")})
	if err != nil || e.Version != "1.0.1" {
		t.Fatalf("publish script again: %+v %v", e, err)
	}
	prog, _, err := ex2.Lookup(ctx, "greet", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	res, err := vm.NewMachine().Run(ctx, prog, &vm.Input{}, vm.Limits{})
	if err != nil || string(res.Result) != `{"r":"hi ann"}` {
		t.Fatalf("run published script: %v", err)
	}
	// Compile errors and cycles come back as invalid.
	if _, err := m.client.PublishScript(ctx, registry.ScriptRequest{Name: "cyc", Kind: registry.KindLibrary, Source: []byte("import(\"cyc\")\n")}); !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("self import: %v", err)
	}
	if _, err := m.client.PublishScript(ctx, registry.ScriptRequest{Name: "bad", Source: []byte("addVar(x\n")}); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("syntax error: %v", err)
	}
}

func pgOrFile(t *testing.T) registry.Store {
	if os.Getenv("AVAP_TEST_POSTGRES_DSN") != "" {
		return pgStore(t)
	}
	st, err := registry.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTierFallThroughAndFill(t *testing.T) {
	m := startMesh(t, pgOrFile(t))
	ctx := context.Background()
	e := m.publish(t, "math", "1.0.0", registry.KindLibrary, mathV1)
	kv := bucket(t, m)
	// Remove the package from L2: the first lookup goes to L3.
	if err := kv.Purge(ctx, "pkg."+e.Hash); err != nil {
		t.Fatal(err)
	}
	ex := m.executor(t, t.TempDir(), nil)
	for _, want := range []string{registry.TierL3, registry.TierL1} {
		if _, tier, err := ex.Get(ctx, e.Hash); err != nil || tier != want {
			t.Fatalf("tier %s, want %s: %v", tier, want, err)
		}
	}
	// L3 filled L2: a second executor (no local files) finds it in KV.
	ex2 := m.executor(t, "", nil)
	if _, tier, err := ex2.Get(ctx, e.Hash); err != nil || tier != registry.TierL2 {
		t.Fatalf("second executor tier %s: %v", tier, err)
	}
	st := ex.Stats()
	if st[registry.TierL1][0] != 1 || st[registry.TierL3][0] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func bucket(t *testing.T, m *mesh) jetstream.KeyValue { return bucketTB(t, m) }

func bucketTB(t testing.TB, m *mesh) jetstream.KeyValue {
	js, _ := jetstream.New(m.nc)
	kv, err := js.KeyValue(context.Background(), m.bucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func flip(b []byte) []byte {
	b = bytes.Clone(b)
	lines := bytes.SplitN(b, []byte("\n"), 3)
	body, _ := base64.StdEncoding.DecodeString(string(lines[1]))
	body[len(body)-3] ^= 0x20
	return []byte(string(lines[0]) + "\n" + base64.StdEncoding.EncodeToString(body) + "\n" + string(lines[2]))
}

func TestTamperedPackagesRefused(t *testing.T) {
	m := startMesh(t, pgOrFile(t))
	ctx := context.Background()
	e := m.publish(t, "math", "1.0.0", registry.KindLibrary, mathV1)
	kv := bucket(t, m)
	ent, err := kv.Get(ctx, "pkg."+e.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "pkg."+e.Hash, flip(ent.Value())); err != nil {
		t.Fatal(err)
	}
	audits := make(chan registry.AuditEvent, 10)
	dir := t.TempDir()
	ex := m.executor(t, dir, func(a registry.AuditEvent) { audits <- a })
	script := "import(\"math\")\nr = double(2)\naddResult(r)\n"
	_, _, err = run(t, ex, script)
	var is *registry.InvalidSignatureError
	if !errors.As(err, &is) && (err == nil || !strings.Contains(err.Error(), "invalid signature")) {
		t.Fatalf("tampered in KV: %v", err)
	}
	if !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "l2") {
		t.Fatalf("reason: %v", err)
	}
	if a := <-audits; a.Action != "refused" || a.Hash != e.Hash {
		t.Fatalf("audit %+v", a)
	}
	// The next lookup skips the bad L2 entry, fetches from L3 and repairs L2.
	if got, _, err := run(t, ex, script); err != nil || got != `{"r":4}` {
		t.Fatalf("after repair: %s %v", got, err)
	}
	if ent, _ := kv.Get(ctx, "pkg."+e.Hash); !bytes.Equal(ent.Value(), ent.Value()) {
		t.Fatal("unreachable")
	}
	// Flip a byte in the local file cache: an offline executor refuses it.
	path := dir + "/pkgs/" + e.Hash
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hash %s", e.Hash)
	if err := os.WriteFile(path, flip(b), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = ex.Shutdown(ctx)
	off, err := registry.NewCache(registry.CacheOptions{Trusted: m.keys, Dir: dir, Precache: -1, Audit: func(a registry.AuditEvent) { audits <- a }})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, off, script)
	if err == nil || !strings.Contains(err.Error(), "local cache") || !strings.Contains(err.Error(), "invalid signature") {
		t.Fatalf("tampered local file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("tampered local file kept")
	}
}

func TestOfflineStartFromLocalCache(t *testing.T) {
	m := startMesh(t, pgOrFile(t))
	ctx := context.Background()
	m.publish(t, "math", "1.0.0", registry.KindLibrary, mathV1)
	if _, err := m.client.PublishScript(ctx, registry.ScriptRequest{Name: "job", Source: []byte("import(\"math@^1\")\nr = double(5)\naddResult(r)\n")}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ex := m.executor(t, dir, nil)
	if _, _, err := ex.Lookup(ctx, "job", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, ex, "import(\"math\")\n"); err != nil {
		t.Fatal(err)
	}
	_ = ex.Shutdown(ctx)

	// Backup and restore the local cache into a new directory.
	var buf bytes.Buffer
	if n, err := registry.Backup(dir, &buf); err != nil || n < 3 {
		t.Fatalf("backup: %d %v", n, err)
	}
	dir2 := t.TempDir()
	if _, err := registry.Restore(dir2, bytes.NewReader(buf.Bytes()), m.keys); err != nil {
		t.Fatal(err)
	}
	// Registry, KV and PostgreSQL unreachable: no connection at all.
	off, err := registry.NewCache(registry.CacheOptions{Trusted: m.keys, Dir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Start(ctx); err != nil {
		t.Fatal(err)
	}
	prog, _, err := off.Lookup(ctx, "job", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := vm.NewMachine().Run(ctx, prog, &vm.Input{}, vm.Limits{})
	if err != nil || string(res.Result) != `{"r":10}` {
		t.Fatalf("offline run: %v", err)
	}
	if got, _, err := run(t, off, "import(\"math\")\nr = double(1)\naddResult(r)\n"); err != nil || got != `{"r":2}` {
		t.Fatalf("offline import: %s %v", got, err)
	}
	// A restore of a tampered archive is refused.
	var bad bytes.Buffer
	dir3 := t.TempDir()
	pk := dir2 + "/pkgs"
	ents, _ := os.ReadDir(pk)
	b, _ := os.ReadFile(pk + "/" + ents[0].Name())
	_ = os.WriteFile(pk+"/"+ents[0].Name(), flip(b), 0o600)
	if _, err := registry.Backup(dir2, &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Restore(dir3, &bad, m.keys); !errors.Is(err, registry.ErrVerify) {
		t.Fatalf("restore tampered: %v", err)
	}
}
