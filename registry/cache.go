package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// Defaults of CacheOptions.
const (
	DefaultCacheTTL  = 5 * time.Minute
	DefaultCacheSize = 1024
	DefaultPrecache  = 32
)

// CacheOptions configure the executor side of the registry.
type CacheOptions struct {
	Conn     *nats.Conn    // mesh connection; or nil (local files only)
	Trusted  Verifiers     // keys whose packages run; required
	Dir      string        // local file cache of signed packages; or "" for none
	TTL      time.Duration // L1 time to live; 0 = DefaultCacheTTL
	Size     int           // L1 entries; 0 = DefaultCacheSize
	Precache int           // most used packages loaded at Start; 0 = DefaultPrecache, <0 = none
	Bucket   string        // KV bucket; "" = bus.RegistryBucket
	Logger   *slog.Logger
	Audit    func(AuditEvent) // refused packages; or nil
	// CallTimeout bounds one call to the registry service (L3); 0 = 2s.
	CallTimeout time.Duration
	// Guard, when set, runs every call to the registry service (a circuit
	// breaker: it may refuse the call with an error of its own).
	Guard func(call func() error) error
}

// Tiers, as reported by Get and counted in Stats.
const (
	TierL1    = "l1"
	TierL2    = "l2"
	TierLocal = "local"
	TierL3    = "l3"
)

// Cache finds signed packages for an executor: L1 in-process LRU with
// TTL, L2 the JetStream KV bucket, then the local file cache, then L3 the
// registry service; a lookup fills the tiers above the one that answered.
// Every package is verified against the trusted keys when it enters the
// process (from L2, a file or L3). The catalogue (which versions exist and
// their status) is kept in memory from a KV watch of idx.*: a new version
// or a revocation reaches every executor within milliseconds, bumps
// Generation (so programs linked against an old catalogue are relinked)
// and evicts revoked packages from L1.
type Cache struct {
	opts   CacheOptions
	log    *slog.Logger
	l1     *expirable.LRU[l1Key, *loaded]
	client *Client
	kv     jetstream.KeyValue // nil without JetStream

	mu  sync.RWMutex // guards cat and rev
	cat map[string]map[string]Entry
	rev int64

	gen     atomic.Uint64
	hitsMu  sync.Mutex       // guards hits
	hits    map[string]int64 // name@version -> lookups (pre-caching)
	badL2   sync.Map         // hash -> struct{}: refused in KV, skip it
	flights sync.Map         // hash -> *flight
	counts  [4][2]atomic.Int64

	stop context.CancelFunc
	done chan struct{}
}

type l1Key struct {
	hash   string
	format uint64 // vm.BytecodeVersion
}

type loaded struct {
	v    *Verified
	once sync.Once
	prog *vm.Program
	err  error
}

func (l *loaded) program() (*vm.Program, error) {
	l.once.Do(func() { l.prog, l.err = l.v.Program() })
	return l.prog, l.err
}

type flight struct {
	done chan struct{}
	l    *loaded
	tier string
	err  error
}

// NewCache validates opts; Start loads the catalogue.
func NewCache(opts CacheOptions) (*Cache, error) {
	if opts.Trusted == nil {
		return nil, errors.New("registry cache: Trusted keys are required")
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultCacheTTL
	}
	if opts.Size <= 0 {
		opts.Size = DefaultCacheSize
	}
	if opts.Precache == 0 {
		opts.Precache = DefaultPrecache
	}
	if opts.Bucket == "" {
		opts.Bucket = bus.RegistryBucket
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Audit == nil {
		opts.Audit = func(AuditEvent) {}
	}
	c := &Cache{opts: opts, log: opts.Logger, cat: map[string]map[string]Entry{}, hits: map[string]int64{}}
	c.l1 = expirable.NewLRU[l1Key, *loaded](opts.Size, nil, opts.TTL)
	if opts.Conn != nil {
		c.client = NewClient(opts.Conn, opts.CallTimeout)
		c.client.guard = opts.Guard
	}
	return c, nil
}

// Start loads the catalogue (local index, then the KV watch, then a sync
// with the registry), starts the watch and pre-caches the most used
// packages. It succeeds with the registry, KV and PostgreSQL all down as
// long as the local cache has what is needed (offline mode).
func (c *Cache) Start(ctx context.Context) error {
	c.loadLocal()
	wctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.done = make(chan struct{})
	synced := make(chan struct{})
	if c.opts.Conn != nil {
		kv, err := openBucket(ctx, c.opts.Conn, c.opts.Bucket, 1)
		if err != nil {
			c.log.Warn("registry cache: no KV bucket, L2 off", "err", err)
		} else if w, err := kv.Watch(wctx, "idx.>"); err != nil {
			c.log.Warn("registry cache: cannot watch KV, L2 off", "err", err)
		} else {
			c.kv = kv
			go c.watch(w, synced)
		}
	}
	if c.kv == nil {
		close(c.done)
		close(synced)
	}
	select {
	case <-synced:
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		c.log.Warn("registry cache: KV catalogue not loaded in 5s, going on")
	}
	if c.client != nil {
		c.mu.RLock()
		since := c.rev
		c.mu.RUnlock()
		if l, err := c.client.Sync(ctx, since); err != nil {
			c.log.Warn("registry cache: registry unreachable, using cached catalogue", "err", err)
		} else {
			c.merge(l.Entries)
		}
	}
	c.saveIndex()
	c.precache(ctx)
	return nil
}

// Shutdown stops the watch and saves the catalogue and hit counts.
func (c *Cache) Shutdown(ctx context.Context) error {
	if c.stop != nil {
		c.stop()
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	}
	c.saveIndex()
	c.saveHits()
	return nil
}

func (c *Cache) watch(w jetstream.KeyWatcher, synced chan struct{}) {
	defer close(c.done)
	defer func() { _ = w.Stop() }()
	initial := true
	for u := range w.Updates() {
		if u == nil {
			if initial {
				initial = false
				close(synced)
			}
			continue
		}
		if u.Operation() != jetstream.KeyValuePut {
			continue
		}
		var es []Entry
		if err := json.Unmarshal(u.Value(), &es); err != nil {
			c.log.Warn("registry cache: bad catalogue entry in KV", "key", u.Key(), "err", err)
			continue
		}
		if c.merge(es) && !initial {
			c.saveIndex()
		}
	}
	if initial {
		close(synced)
	}
}

// merge applies entries newer than what the catalogue holds; it reports
// whether anything changed.
func (c *Cache) merge(es []Entry) bool {
	changed := false
	var revoked []string
	c.mu.Lock()
	for _, e := range es {
		if ValidName(e.Name) != nil || ValidVersion(e.Version) != nil {
			continue
		}
		vs := c.cat[e.Name]
		if vs == nil {
			vs = map[string]Entry{}
			c.cat[e.Name] = vs
		}
		if cur, ok := vs[e.Version]; ok && cur.Revision >= e.Revision {
			continue
		}
		vs[e.Version] = e
		c.rev = max(c.rev, e.Revision)
		changed = true
		if e.Status == StatusRevoked {
			revoked = append(revoked, e.Hash)
		}
	}
	c.mu.Unlock()
	for _, h := range revoked {
		c.l1.Remove(l1Key{h, vm.BytecodeVersion})
	}
	if changed {
		c.gen.Add(1)
	}
	return changed
}

// Generation changes whenever the catalogue changes (publish, deprecate,
// revoke): programs linked under an older generation should be relinked.
func (c *Cache) Generation() uint64 { return c.gen.Load() }

// Entries returns the catalogue entries of name ("" = all), sorted.
func (c *Cache) Entries(name string) []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Entry
	for n, vs := range c.cat {
		if name != "" && n != name {
			continue
		}
		for _, e := range vs {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Revision, b.Revision))
	})
	return out
}

// Resolve picks the version of name for a range from the catalogue,
// asking the registry when the catalogue has no such name.
func (c *Cache) Resolve(ctx context.Context, name, constraint string) (Entry, string, error) {
	es := c.Entries(name)
	if len(es) == 0 && c.client != nil {
		if l, err := c.client.List(ctx, name); err == nil {
			c.merge(l.Entries)
			es = c.Entries(name)
		}
	}
	return Resolve(es, name, constraint)
}

func (c *Cache) count(tier string, hit bool) {
	t := map[string]int{TierL1: 0, TierL2: 1, TierLocal: 2, TierL3: 3}[tier]
	h := 1
	if hit {
		h = 0
	}
	c.counts[t][h].Add(1)
}

// Stats returns lookups per tier: hits and misses.
func (c *Cache) Stats() map[string][2]int64 {
	out := map[string][2]int64{}
	for i, t := range []string{TierL1, TierL2, TierLocal, TierL3} {
		out[t] = [2]int64{c.counts[i][0].Load(), c.counts[i][1].Load()}
	}
	return out
}

func (c *Cache) refuse(tier, hash string, err error) error {
	c.log.Error("registry cache: package refused", "tier", tier, "hash", shortHash(hash), "err", err)
	c.opts.Audit(AuditEvent{Action: "refused", Hash: hash, Reason: fmt.Sprintf("%s: %v", tier, err)})
	return fmt.Errorf("package %s from %s refused: %w", shortHash(hash), tier, err)
}

// Get returns the verified package with content hash, and the tier that
// had it. A package that fails verification is refused (the error says
// why) and removed from the local file cache.
func (c *Cache) Get(ctx context.Context, hash string) (*Verified, string, error) {
	l, tier, err := c.get(ctx, hash)
	if err != nil {
		return nil, tier, err
	}
	return l.v, tier, nil
}

func (c *Cache) get(ctx context.Context, hash string) (*loaded, string, error) {
	key := l1Key{hash, vm.BytecodeVersion}
	if l, ok := c.l1.Get(key); ok {
		c.count(TierL1, true)
		return l, TierL1, nil
	}
	c.count(TierL1, false)
	f := &flight{done: make(chan struct{})}
	if prev, loaded := c.flights.LoadOrStore(hash, f); loaded {
		p := prev.(*flight)
		select {
		case <-p.done:
			return p.l, p.tier, p.err
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	f.l, f.tier, f.err = c.fetch(ctx, hash)
	if f.err == nil {
		c.l1.Add(key, f.l)
	}
	c.flights.Delete(hash)
	close(f.done)
	return f.l, f.tier, f.err
}

func (c *Cache) fetch(ctx context.Context, hash string) (*loaded, string, error) {
	if !validHash(hash) {
		return nil, "", fmt.Errorf("%w: hash %q", ErrInvalid, hash)
	}
	var unavailable []error
	// L2: the KV bucket.
	if c.kv != nil {
		if _, bad := c.badL2.Load(hash); !bad {
			e, err := c.kv.Get(ctx, pkgKey(hash))
			switch {
			case err == nil:
				v, err := Open(e.Value(), c.opts.Trusted, hash)
				if err != nil {
					c.badL2.Store(hash, struct{}{}) // the next lookup goes to L3 and repairs L2
					return nil, TierL2, c.refuse(TierL2, hash, err)
				}
				c.count(TierL2, true)
				c.writeLocal(hash, e.Value())
				return &loaded{v: v}, TierL2, nil
			case errors.Is(err, jetstream.ErrKeyNotFound):
				c.count(TierL2, false)
			default:
				c.count(TierL2, false)
				unavailable = append(unavailable, fmt.Errorf("kv: %w", err))
			}
		}
	}
	// The local file cache.
	if env, err := c.readLocal(hash); err == nil {
		v, err := Open(env, c.opts.Trusted, hash)
		if err != nil {
			_ = os.Remove(c.localPath(hash))
			return nil, TierLocal, c.refuse("local cache", hash, err)
		}
		c.count(TierLocal, true)
		c.putL2(ctx, hash, env)
		return &loaded{v: v}, TierLocal, nil
	} else if c.opts.Dir != "" {
		c.count(TierLocal, false)
	}
	// L3: the registry service.
	if c.client != nil {
		rec, err := c.client.GetByHash(ctx, hash)
		if err == nil {
			v, err := Open(rec.Envelope, c.opts.Trusted, hash)
			if err != nil {
				return nil, TierL3, c.refuse(TierL3, hash, err)
			}
			c.count(TierL3, true)
			c.putL2(ctx, hash, rec.Envelope)
			c.badL2.Delete(hash)
			c.writeLocal(hash, rec.Envelope)
			return &loaded{v: v}, TierL3, nil
		}
		c.count(TierL3, false)
		if errors.Is(err, ErrNotFound) {
			return nil, TierL3, err
		}
		unavailable = append(unavailable, err)
	}
	if len(unavailable) == 0 {
		return nil, "", fmt.Errorf("%w: package %s is in no cache and no registry is connected", ErrNotFound, shortHash(hash))
	}
	return nil, "", fmt.Errorf("%w: package %s: %w", ErrUnavailable, shortHash(hash), errors.Join(unavailable...))
}

func (c *Cache) putL2(ctx context.Context, hash string, env []byte) {
	if c.kv == nil {
		return
	}
	if _, err := c.kv.Put(ctx, pkgKey(hash), env); err != nil {
		c.log.Debug("registry cache: fill L2", "err", err)
	}
}

func (c *Cache) localPath(hash string) string { return filepath.Join(c.opts.Dir, "pkgs", hash) }

func (c *Cache) readLocal(hash string) ([]byte, error) {
	if c.opts.Dir == "" {
		return nil, fs.ErrNotExist
	}
	return os.ReadFile(c.localPath(hash))
}

func (c *Cache) writeLocal(hash string, env []byte) {
	if c.opts.Dir == "" {
		return
	}
	p := c.localPath(hash)
	if _, err := os.Stat(p); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err == nil {
		err = writeFile(p, env)
		if err != nil {
			c.log.Warn("registry cache: write local cache", "err", err)
		}
	}
}

type localIndex struct {
	Revision int64   `json:"revision"`
	Entries  []Entry `json:"entries"`
}

func (c *Cache) loadLocal() {
	if c.opts.Dir == "" {
		return
	}
	if b, err := os.ReadFile(filepath.Join(c.opts.Dir, "index.json")); err == nil {
		var li localIndex
		if err := json.Unmarshal(b, &li); err != nil {
			c.log.Warn("registry cache: bad local index", "err", err)
		} else {
			c.merge(li.Entries)
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.opts.Dir, "hits.json")); err == nil {
		c.hitsMu.Lock()
		_ = json.Unmarshal(b, &c.hits)
		c.hitsMu.Unlock()
	}
}

func (c *Cache) saveIndex() {
	if c.opts.Dir == "" {
		return
	}
	es := c.Entries("")
	c.mu.RLock()
	rev := c.rev
	c.mu.RUnlock()
	b, _ := json.Marshal(localIndex{Revision: rev, Entries: es})
	if err := os.MkdirAll(c.opts.Dir, 0o750); err == nil {
		if err := writeFile(filepath.Join(c.opts.Dir, "index.json"), b); err != nil {
			c.log.Warn("registry cache: save index", "err", err)
		}
	}
}

func (c *Cache) saveHits() {
	if c.opts.Dir == "" {
		return
	}
	c.hitsMu.Lock()
	b, _ := json.Marshal(c.hits)
	c.hitsMu.Unlock()
	if err := os.MkdirAll(c.opts.Dir, 0o750); err == nil {
		_ = writeFile(filepath.Join(c.opts.Dir, "hits.json"), b)
	}
}

func (c *Cache) hit(e Entry) {
	c.hitsMu.Lock()
	c.hits[e.Name+"@"+e.Version]++
	c.hitsMu.Unlock()
}

// precache loads the most used packages (by recorded hits) into L1.
func (c *Cache) precache(ctx context.Context) {
	if c.opts.Precache < 0 {
		return
	}
	c.hitsMu.Lock()
	type hc struct {
		key string
		n   int64
	}
	var top []hc
	for k, n := range c.hits {
		top = append(top, hc{k, n})
	}
	c.hitsMu.Unlock()
	slices.SortFunc(top, func(a, b hc) int { return cmp.Compare(b.n, a.n) })
	loadedN := 0
	for _, t := range top {
		if loadedN >= c.opts.Precache {
			break
		}
		name, version, _ := strings.Cut(t.key, "@")
		c.mu.RLock()
		e, ok := c.cat[name][version]
		c.mu.RUnlock()
		if !ok || e.Status == StatusRevoked {
			continue
		}
		if _, _, err := c.get(ctx, e.Hash); err == nil {
			loadedN++
		}
	}
	if loadedN > 0 {
		c.log.Info("registry cache: packages pre-cached", "count", loadedN)
	}
}

// Import implements vm.Importer: import("name@range") from the catalogue.
func (c *Cache) Import(ctx context.Context, name, constraint string) (*vm.Library, error) {
	e, warn, err := c.Resolve(ctx, name, constraint)
	if err != nil {
		return nil, err
	}
	l, _, err := c.get(ctx, e.Hash)
	if err != nil {
		return nil, err
	}
	c.hit(e)
	return library(l.v, warn)
}

// Include implements vm.Importer: inline scripts have no files.
func (c *Cache) Include(_ context.Context, _, path string) (string, []byte, error) {
	return "", nil, fmt.Errorf("include(%q): an inline script has no files (publish multi-file scripts with avap commands publish DIR)", path)
}

// Lookup returns the program of the stored script name at a version or
// range ("" = latest), with warnings for the run's logs (deprecation).
func (c *Cache) Lookup(ctx context.Context, name, version string) (*vm.Program, []string, error) {
	e, warn, err := c.Resolve(ctx, name, version)
	if err != nil {
		return nil, nil, err
	}
	if e.Kind != KindScript {
		return nil, nil, fmt.Errorf("%w: %s@%s is a %s; import it from a script", ErrInvalid, e.Name, e.Version, e.Kind)
	}
	l, _, err := c.get(ctx, e.Hash)
	if err != nil {
		return nil, nil, err
	}
	p, err := l.program()
	if err != nil {
		return nil, nil, c.refuse("load", e.Hash, err)
	}
	c.hit(e)
	var warns []string
	if warn != "" {
		warns = []string{warn}
	}
	return p, warns, nil
}

// Revoked reports whether the catalogue marks any of imports revoked.
func (c *Cache) Revoked(imports []vm.Import) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, im := range imports {
		if e, ok := c.cat[im.Name][im.Version]; ok && e.Status == StatusRevoked {
			return fmt.Errorf("%w: %s@%s", ErrRevoked, im.Name, im.Version)
		}
	}
	return nil
}

// PublishScript publishes a named script through the registry service,
// which builds and signs it (/api/v1/compile).
func (c *Cache) PublishScript(ctx context.Context, name, version string, src []byte) (Entry, error) {
	if c.client == nil {
		return Entry{}, ErrUnavailable
	}
	e, err := c.client.PublishScript(ctx, ScriptRequest{Name: name, Version: version, Source: src})
	if err == nil {
		c.merge([]Entry{e})
	}
	return e, err
}

// Evict drops the package with content hash from L1 (the next lookup goes
// to L2).
func (c *Cache) Evict(hash string) { c.l1.Remove(l1Key{hash, vm.BytecodeVersion}) }
