package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/registry"
	"github.com/avapmesh/avap/vm"
)

// registryCache is the executor side of the registry: the L1/L2/L3 cache
// of signed packages, the Importer of inline scripts and the command store
// of named scripts. nil when no key is trusted (the executor then keeps its
// JetStream KV command store).
type registryCache struct {
	c *registry.Cache
}

// newRegistryCache builds the cache from registry.trusted_keys plus, under
// serve, the public key of the registry's own signing key.
func newRegistryCache(w wiring) (*registryCache, error) {
	cfg := w.Config.Current()
	trusted := append([]string(nil), cfg.Registry.TrustedKeys...)
	if len(w.Roles) > 1 { // serve: the registry component made or read its key
		kf := cfg.Registry.KeyFile
		if kf == "" {
			kf = servedKeyFile(cfg.DataDir)
		}
		if b, err := os.ReadFile(kf); err == nil {
			if s, err := registry.NewSigner(string(b)); err == nil {
				pub, _ := registry.PublicKey(s)
				trusted = append(trusted, pub)
			}
		}
	}
	if len(trusted) == 0 {
		w.Log.Info("registry.trusted_keys is empty: imports and signed commands are off")
		return nil, nil
	}
	keys, err := registry.NewKeyring(trusted...)
	if err != nil {
		return nil, err
	}
	log := w.Log
	c, err := registry.NewCache(registry.CacheOptions{
		Conn: w.Conn, Trusted: keys, Dir: filepath.Join(registryDir(cfg.DataDir), "cache"),
		TTL: cfg.Registry.CacheTTL, Size: cfg.Registry.CacheSize, Precache: cfg.Registry.Precache,
		Logger: log,
		Guard:  registryGuard(w.Breakers), // circuit breaker on L3 calls (mesh.go)
		Audit: func(e registry.AuditEvent) {
			log.Warn("registry audit", "action", e.Action, "command", e.Name, "version", e.Version, "hash", e.Hash, "reason", e.Reason)
		},
	})
	if err != nil {
		return nil, err
	}
	return &registryCache{c: c}, nil
}

// compileOptions returns opts with the registry as Importer.
func (r *registryCache) compileOptions(opts vm.CompileOptions) vm.CompileOptions {
	if r != nil {
		opts.Importer = r.c
	}
	return opts
}

// commands returns the command store of named scripts; nil = executor default.
func (r *registryCache) commands() executor.CommandStore {
	if r == nil {
		return nil
	}
	return registryCommands{r.c}
}

// wrap makes the executor component start after the cache and stop before it.
func (r *registryCache) wrap(e component) component {
	if r == nil {
		return e
	}
	return &cachedExecutor{component: e, cache: r.c}
}

type cachedExecutor struct {
	component
	cache *registry.Cache
}

func (c *cachedExecutor) Start(ctx context.Context) error {
	if err := c.cache.Start(ctx); err != nil {
		return err
	}
	if err := c.component.Start(ctx); err != nil {
		_ = c.cache.Shutdown(ctx)
		return err
	}
	return nil
}

func (c *cachedExecutor) Shutdown(ctx context.Context) error {
	err := c.component.Shutdown(ctx)
	return errors.Join(err, c.cache.Shutdown(ctx))
}

// Failed and Check pass through to the executor.
func (c *cachedExecutor) Failed() <-chan error {
	if f, ok := c.component.(failer); ok {
		return f.Failed()
	}
	return nil
}

func (c *cachedExecutor) Check(ctx context.Context) error {
	if ch, ok := c.component.(checker); ok {
		return ch.Check(ctx)
	}
	return nil
}

// registryCommands stores named scripts as signed registry packages:
// /api/v1/compile publishes a new version (the registry builds and signs
// it), {"command": name} runs the latest version, verified on load.
type registryCommands struct{ c *registry.Cache }

func (rc registryCommands) Get(ctx context.Context, name string) ([]byte, uint64, error) {
	e, _, err := rc.c.Resolve(ctx, name, "")
	if errors.Is(err, registry.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %q", executor.ErrCommandNotFound, name)
	}
	if err != nil {
		return nil, 0, err
	}
	if e.Kind != registry.KindScript {
		return nil, 0, fmt.Errorf("%w: %q is a library; import it from a script", executor.ErrCommandNotFound, name)
	}
	v, _, err := rc.c.Get(ctx, e.Hash)
	if err != nil {
		return nil, 0, err
	}
	return v.Source, uint64(e.Revision), nil
}

func (rc registryCommands) Put(ctx context.Context, name string, src []byte) (uint64, error) {
	if err := executor.ValidCommandName(name); err != nil {
		return 0, err
	}
	e, err := rc.c.PublishScript(ctx, name, "", src)
	if err != nil {
		return 0, fmt.Errorf("publish through the registry: %s", strings.TrimPrefix(err.Error(), "registry: "))
	}
	return uint64(e.Revision), nil
}
