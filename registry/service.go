package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// ServerOptions configure the registry service.
type ServerOptions struct {
	Conn    *nats.Conn // required
	Store   Store      // required: PostgreSQL or files
	Trusted Verifiers  // keys whose packages are accepted; required
	Signer  Signer     // signs scripts published through /api/v1/compile; or nil (refused)
	Logger  *slog.Logger
	Version string // micro service version; "" = 0.1.0
	// Bucket overrides bus.RegistryBucket (tests); Replicas of the bucket.
	Bucket   string
	Replicas int
	// Audit receives one event per publish, status change and refused
	// package; or nil.
	Audit func(AuditEvent)
	// Compile bounds compiling scripts published server-side.
	Compile vm.CompileOptions
}

// AuditEvent describes a registry action or a refused package.
type AuditEvent struct {
	Action  string // publish, deprecate, revoke, activate, refused
	Name    string
	Version string
	Hash    string
	Reason  string
}

// Server is the `avap registry` role: a micro service over the Store
// that mirrors the catalogue and packages into the KV bucket (L2).
type Server struct {
	opts ServerOptions
	log  *slog.Logger
	kv   jetstream.KeyValue
	svc  micro.Service

	mu sync.Mutex // serializes catalogue changes and their KV mirror

	ready   chan struct{}
	started atomic.Bool
	stopped atomic.Bool
}

// NewServer validates opts.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Conn == nil || opts.Store == nil || opts.Trusted == nil {
		return nil, errors.New("registry: Conn, Store and Trusted are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "0.1.0"
	}
	if opts.Bucket == "" {
		opts.Bucket = bus.RegistryBucket
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Audit == nil {
		opts.Audit = func(AuditEvent) {}
	}
	return &Server{opts: opts, log: opts.Logger, ready: make(chan struct{})}, nil
}

// openBucket creates or opens the registry KV bucket.
func openBucket(ctx context.Context, nc *nats.Conn, bucket string, replicas int) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucket, Description: "AVAP command registry: catalogue (idx.*) and signed packages (pkg.*)",
			History: 1, Replicas: replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("registry kv bucket %s: %w", bucket, err)
	}
	return kv, nil
}

func idxKey(name string) string { return "idx." + name }
func pkgKey(hash string) string { return "pkg." + hash }

// Start opens the KV bucket, mirrors the catalogue into it and starts the
// micro service.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("registry: already started")
	}
	kv, err := openBucket(ctx, s.opts.Conn, s.opts.Bucket, s.opts.Replicas)
	if err != nil {
		return err
	}
	s.kv = kv
	if err := s.mirrorAll(ctx); err != nil {
		return err
	}
	svc, err := micro.AddService(s.opts.Conn, micro.Config{
		Name: bus.RegistryService, Version: s.opts.Version,
		Description: "AVAP command registry: signed packages",
	})
	if err != nil {
		return fmt.Errorf("registry: add service: %w", err)
	}
	g := svc.AddGroup(bus.RegistryPrefix)
	for op, h := range map[string]func(context.Context, []byte) (any, error){
		"publish":   s.publish,
		"get":       s.get,
		"list":      s.list,
		"sync":      s.sync,
		"deprecate": s.status(StatusDeprecated),
		"revoke":    s.status(StatusRevoked),
		"activate":  s.status(StatusActive),
	} {
		if err := g.AddEndpoint(op, s.handler(h)); err != nil {
			_ = svc.Stop()
			return fmt.Errorf("registry: endpoint %s: %w", op, err)
		}
	}
	s.svc = svc
	close(s.ready)
	return nil
}

// Ready is closed once the service answers.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Shutdown stops the service (idempotent).
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) || s.svc == nil {
		return nil
	}
	return s.svc.Stop()
}

func (s *Server) handler(h func(context.Context, []byte) (any, error)) micro.HandlerFunc {
	return func(r micro.Request) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if len(r.Data()) > 2*MaxPackageSize+4096 {
			_ = r.Error(strconv.Itoa(codeInvalid), "request too large", nil)
			return
		}
		out, err := h(ctx, r.Data())
		if err != nil {
			code := errorCode(err)
			if code == codeInternal {
				s.log.Error("registry request failed", "subject", r.Subject(), "err", err)
			}
			_ = r.Error(strconv.Itoa(code), err.Error(), nil)
			return
		}
		_ = r.RespondJSON(out)
	}
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: request: %v", ErrInvalid, err)
	}
	return nil
}

// mirror writes name's catalogue entries (and, when given, a package) to KV.
func (s *Server) mirror(ctx context.Context, name string, rec *Record) error {
	if rec != nil {
		if _, err := s.kv.Put(ctx, pkgKey(rec.Hash), rec.Envelope); err != nil {
			return fmt.Errorf("registry kv put package: %w", err)
		}
	}
	es, err := s.opts.Store.List(ctx, name)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(es)
	if _, err := s.kv.Put(ctx, idxKey(name), b); err != nil {
		return fmt.Errorf("registry kv put index: %w", err)
	}
	return nil
}

// mirrorAll rewrites the whole catalogue into KV (packages are fetched by
// executors from L3 on demand and then filled into KV).
func (s *Server) mirrorAll(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	es, err := s.opts.Store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("registry: list catalogue: %w", err)
	}
	byName := map[string][]Entry{}
	for _, e := range es {
		byName[e.Name] = append(byName[e.Name], e)
	}
	for name, list := range byName {
		b, _ := json.Marshal(list)
		if _, err := s.kv.Put(ctx, idxKey(name), b); err != nil {
			return fmt.Errorf("registry kv put index: %w", err)
		}
	}
	return nil
}

func (s *Server) publish(ctx context.Context, data []byte) (any, error) {
	var req PublishRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	env := req.Envelope
	if req.Script != nil {
		var err error
		if env, err = s.buildScript(ctx, req.Script); err != nil {
			return nil, err
		}
	}
	v, err := Open(env, s.opts.Trusted, "")
	if err != nil {
		s.opts.Audit(AuditEvent{Action: "refused", Reason: err.Error()})
		s.log.Warn("registry refused package", "err", err)
		return nil, err
	}
	if _, err := v.Program(); err != nil {
		return nil, err
	}
	rec := &Record{Entry: Entry{Name: v.Name, Version: v.Version, Kind: v.Kind, Hash: v.Hash,
		KeyID: fmt.Sprintf("%s+%08x", v.KeyName, v.KeyHash)}, Envelope: env}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.opts.Store.Publish(ctx, rec)
	if err != nil {
		return nil, err
	}
	if err := s.mirror(ctx, e.Name, rec); err != nil {
		return nil, err
	}
	s.opts.Audit(AuditEvent{Action: "publish", Name: e.Name, Version: e.Version, Hash: e.Hash})
	s.log.Info("package published", "command", e.Name, "version", e.Version, "revision", e.Revision)
	return e, nil
}

// buildScript compiles, versions and signs a script with the server key.
func (s *Server) buildScript(ctx context.Context, sr *ScriptRequest) ([]byte, error) {
	if s.opts.Signer == nil {
		return nil, fmt.Errorf("%w: this registry has no signing key (registry.key_file)", ErrInvalid)
	}
	if err := ValidName(sr.Name); err != nil {
		return nil, err
	}
	kind := sr.Kind
	if kind == "" {
		kind = KindScript
	}
	version := sr.Version
	if version == "" {
		es, err := s.opts.Store.List(ctx, sr.Name)
		if err != nil {
			return nil, err
		}
		version = nextPatch(es)
	}
	p, err := Build(ctx, sr.Source, BuildOptions{Name: sr.Name, Version: version, Kind: kind,
		Importer: &storeImporter{store: s.opts.Store, keys: s.opts.Trusted, self: sr.Name}, Compile: s.opts.Compile})
	if err != nil {
		return nil, err
	}
	env, _, err := Seal(p, s.opts.Signer)
	return env, err
}

// nextPatch returns the version after the highest of es (1.0.0 for none).
func nextPatch(es []Entry) string {
	var best *semver.Version
	for _, e := range es {
		if v, err := semver.NewVersion(e.Version); err == nil && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return "1.0.0"
	}
	return best.IncPatch().String()
}

func (s *Server) get(ctx context.Context, data []byte) (any, error) {
	var req GetRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if req.Hash != "" {
		if !validHash(req.Hash) {
			return nil, fmt.Errorf("%w: hash", ErrInvalid)
		}
		return s.opts.Store.GetByHash(ctx, req.Hash)
	}
	if err := ValidName(req.Name); err != nil {
		return nil, err
	}
	if req.Version == "" || !isExact(req.Version) {
		es, err := s.opts.Store.List(ctx, req.Name)
		if err != nil {
			return nil, err
		}
		e, _, err := Resolve(es, req.Name, req.Version)
		if err != nil {
			return nil, err
		}
		req.Version = e.Version
	}
	return s.opts.Store.Get(ctx, req.Name, req.Version)
}

func (s *Server) list(ctx context.Context, data []byte) (any, error) {
	var req ListRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	es, err := s.opts.Store.List(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	var rev int64
	for _, e := range es {
		rev = max(rev, e.Revision)
	}
	return ListReply{Entries: es, Revision: rev}, nil
}

func (s *Server) sync(ctx context.Context, data []byte) (any, error) {
	var req SyncRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	es, rev, err := s.opts.Store.Since(ctx, req.Since)
	if err != nil {
		return nil, err
	}
	return ListReply{Entries: es, Revision: rev}, nil
}

func (s *Server) status(status string) func(context.Context, []byte) (any, error) {
	return func(ctx context.Context, data []byte) (any, error) {
		var req StatusRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		if err := ValidName(req.Name); err != nil {
			return nil, err
		}
		if len(req.Reason) > 1024 {
			return nil, fmt.Errorf("%w: reason longer than 1024 bytes", ErrInvalid)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		e, err := s.opts.Store.SetStatus(ctx, req.Name, req.Version, status, req.Reason)
		if err != nil {
			return nil, err
		}
		if err := s.mirror(ctx, e.Name, nil); err != nil {
			return nil, err
		}
		action := map[string]string{StatusDeprecated: "deprecate", StatusRevoked: "revoke", StatusActive: "activate"}[status]
		s.opts.Audit(AuditEvent{Action: action, Name: e.Name, Version: e.Version, Hash: e.Hash, Reason: req.Reason})
		s.log.Info("package status changed", "command", e.Name, "version", e.Version, "status", status, "revision", e.Revision)
		return e, nil
	}
}

// storeImporter resolves imports against the store (server-side builds).
type storeImporter struct {
	store Store
	keys  Verifiers
	self  string // the package being built: importing it is a cycle
}

func (si *storeImporter) Import(ctx context.Context, name, constraint string) (*vm.Library, error) {
	if name == si.self {
		return nil, fmt.Errorf("import cycle: %s imports itself", name)
	}
	es, err := si.store.List(ctx, name)
	if err != nil {
		return nil, err
	}
	e, warn, err := Resolve(es, name, constraint)
	if err != nil {
		return nil, err
	}
	rec, err := si.store.Get(ctx, e.Name, e.Version)
	if err != nil {
		return nil, err
	}
	v, err := Open(rec.Envelope, si.keys, e.Hash)
	if err != nil {
		return nil, err
	}
	return library(v, warn)
}

func (si *storeImporter) Include(_ context.Context, _, path string) (string, []byte, error) {
	return "", nil, fmt.Errorf("include(%q) is not available here: publish multi-file scripts with avap commands publish DIR", path)
}

// library turns a verified package into a vm.Library.
func library(v *Verified, warn string) (*vm.Library, error) {
	if v.Kind != KindLibrary {
		return nil, fmt.Errorf("%s is a %s, not a library", v.Package, v.Kind)
	}
	lib := &vm.Library{Name: v.Name, Version: v.Version, Source: v.Source, Warning: warn}
	copy(lib.Hash[:], mustHex(v.Hash))
	return lib, nil
}
