package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/registry"
)

// registryDir is where the registry keeps its local state under data_dir:
// store/ (file store without PostgreSQL), signing.key/.pub (serve) and
// cache/ (the executors' local file cache of signed packages).
func registryDir(dataDir string) string { return filepath.Join(dataDir, "registry") }

// newRegistry builds the registry component for `avap serve` and
// `avap registry`: the store is PostgreSQL when postgres.dsn is set, else
// files under data_dir/registry/store. It starts after the NATS connection
// and before the executor.
func newRegistry(w wiring) (component, error) {
	return withMeshMember(w, roleRegistry, &registryUnit{w: w, ready: make(chan struct{})}, nil), nil // heartbeats (mesh.go)
}

type registryUnit struct {
	w     wiring
	ready chan struct{}

	mu    sync.Mutex // guards srv (set by Start or the retry goroutine)
	srv   *registry.Server
	store registry.Store // set with srv

	lastErr atomic.Pointer[error] // why the service is not running; nil when it is
	cancel  context.CancelFunc    // stops the retry goroutine; nil when none
	done    chan struct{}
	stopped atomic.Bool
}

// Start opens the store and starts the service. When PostgreSQL cannot be
// reached, Start still succeeds (executors keep serving from their caches)
// and the unit retries in the background, reporting unhealthy until then.
func (u *registryUnit) Start(ctx context.Context) error {
	cfg := u.w.Config.Current()
	dsn := cfg.Postgres.DSN.Reveal()
	if dsn == "" {
		return u.start(ctx)
	}
	if err := u.start(ctx); err == nil {
		return nil
	} else {
		u.lastErr.Store(&err)
		u.w.Log.Error("registry cannot start yet; retrying in the background", "err", err)
	}
	bg, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	u.done = make(chan struct{})
	go func() {
		defer close(u.done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
			}
			sctx, c := context.WithTimeout(bg, 10*time.Second)
			err := u.start(sctx)
			c()
			if err == nil {
				u.lastErr.Store(nil)
				u.w.Log.Info("registry started")
				return
			}
			u.lastErr.Store(&err)
			u.w.Log.Debug("registry start retry failed", "err", err)
		}
	}()
	close(u.ready)
	return nil
}

// Check reports the node healthy while the registry waits for
// PostgreSQL: executors keep serving from their caches meanwhile (the
// failure is logged at every attempt's start and by Start).
func (u *registryUnit) Check(context.Context) error { return nil }

func (u *registryUnit) start(ctx context.Context) error {
	cfg := u.w.Config.Current()
	serve := len(u.w.Roles) > 1
	signer, err := loadSigner(cfg.Registry.KeyFile, cfg.DataDir, serve)
	if err != nil {
		return err
	}
	if dsn := cfg.Postgres.DSN.Reveal(); dsn != "" {
		u.store, err = registry.OpenPostgres(ctx, registry.PostgresOptions{DSN: dsn, Logger: u.w.Log,
			BeforeConnect: pgBeforeConnect(u.w.Config)}) // rotated password (secrets_pg.go)
		if err == nil {
			u.store = guardStore(u.w.Breakers, u.store) // circuit breaker (mesh.go)
		}
	} else {
		u.store, err = registry.OpenFileStore(filepath.Join(registryDir(cfg.DataDir), "store"))
	}
	if err != nil {
		return err
	}
	trusted := append([]string(nil), cfg.Registry.TrustedKeys...)
	if signer != nil {
		pub, _ := registry.PublicKey(signer)
		trusted = append(trusted, pub)
	}
	keys, err := registry.NewKeyring(trusted...)
	if err != nil {
		u.store.Close()
		return err
	}
	log := u.w.Log
	srv, err := registry.NewServer(registry.ServerOptions{
		Conn: u.w.Conn, Store: u.store, Trusted: keys, Signer: signer, Logger: log,
		Version: semver(u.w.Build.Version), Replicas: bus.Replicas(u.w.Conn), // R3 on a cluster
		Audit: countRegistryActions(u.w, func(e registry.AuditEvent) { // avap_registry_actions_total (telemetry_more.go)
			log.Info("registry audit", "action", e.Action, "command", e.Name, "version", e.Version, "hash", e.Hash, "reason", e.Reason)
		}),
	})
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		u.store.Close()
		return err
	}
	if signer == nil {
		log.Info("registry has no signing key: /api/v1/compile cannot publish (set registry.key_file)")
	}
	u.mu.Lock()
	u.srv = srv
	u.mu.Unlock()
	if u.cancel == nil {
		close(u.ready)
	}
	return nil
}

func (u *registryUnit) Shutdown(ctx context.Context) error {
	if !u.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if u.cancel != nil {
		u.cancel()
		<-u.done
	}
	u.mu.Lock()
	srv := u.srv
	u.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	u.store.Close()
	return err
}

func (u *registryUnit) Ready() <-chan struct{} { return u.ready }

// servedKeyFile is the signing key `avap serve` generates when
// registry.key_file is empty.
func servedKeyFile(dataDir string) string { return filepath.Join(registryDir(dataDir), "signing.key") }

// loadSigner reads the signing key file; under serve with no key file it
// generates one under data_dir. nil without a key.
func loadSigner(keyFile, dataDir string, generate bool) (registry.Signer, error) {
	if keyFile == "" {
		if !generate {
			return nil, nil
		}
		keyFile = servedKeyFile(dataDir)
		if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
			if err := writeKeyPair(keyFile, "avap-serve"); err != nil {
				return nil, err
			}
		}
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("registry.key_file: %w", err)
	}
	s, err := registry.NewSigner(string(b))
	if err != nil {
		return nil, fmt.Errorf("registry.key_file %s: %w", keyFile, err)
	}
	return s, nil
}

// writeKeyPair writes a new key pair: keyFile (0600) and keyFile's stem + ".pub".
func writeKeyPair(keyFile, name string) error {
	skey, vkey, err := registry.GenerateKey(rand.Reader, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile(keyFile), []byte(vkey+"\n"), 0o644)
}

func pubFile(keyFile string) string { return strings.TrimSuffix(keyFile, ".key") + ".pub" }
