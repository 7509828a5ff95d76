package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

// edgeProtect wraps the edge component: on SIGHUP it applies new rate
// limits, and with API keys on it copies the key store into
// bus.KeysBucket every http.api_keys.sync_interval (when the store
// changed), so `avap keys revoke` reaches every edge within about a
// second even when the CLI could not reach NATS itself.
type edgeProtect struct {
	component
	w      wiring
	s      *edge.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func withProtect(w wiring, c component, s *edge.Server) component {
	w.Config.OnReload(func(_, cur *Config) { s.SetRateLimits(cur.HTTP.rateLimits()) })
	return &edgeProtect{component: c, w: w, s: s}
}

func (e *edgeProtect) Start(ctx context.Context) error {
	if err := e.component.Start(ctx); err != nil {
		return err
	}
	cfg := e.w.Config.Current()
	if !cfg.HTTP.APIKeys.Enabled || e.w.Conn == nil {
		return nil
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.wg.Go(func() { e.syncKeys(life, cfg) })
	return nil
}

func (e *edgeProtect) Shutdown(ctx context.Context) error {
	if e.cancel != nil {
		e.cancel()
		e.wg.Wait()
	}
	return e.component.Shutdown(ctx)
}

func (e *edgeProtect) Failed() <-chan error {
	if f, ok := e.component.(failer); ok {
		return f.Failed()
	}
	return nil
}

// syncKeys copies store records into the bucket whenever the store's stamp
// changes. Every edge does it; the puts are idempotent.
func (e *edgeProtect) syncKeys(ctx context.Context, cfg *Config) {
	log := e.w.Log.With("part", "api-keys")
	var store keyStore
	var kv jetstream.KeyValue
	last := ""
	t := time.NewTicker(cfg.HTTP.APIKeys.SyncInterval)
	defer t.Stop()
	defer func() {
		if store != nil {
			store.Close()
		}
	}()
	warned := false
	for {
		err := func() error {
			var err error
			if store == nil {
				if store, err = openKeyStoreLive(ctx, cfg, e.w.Config); err != nil {
					return err
				}
			}
			if kv == nil {
				js, err := jetstream.New(e.w.Conn)
				if err != nil {
					return err
				}
				if kv, err = bus.OpenKeys(ctx, js); err != nil {
					return err
				}
			}
			stamp, err := store.Stamp(ctx)
			if err != nil || stamp == last {
				return err
			}
			recs, err := store.List(ctx)
			if err != nil {
				return err
			}
			n := 0
			for i := range recs {
				wrote, err := bus.PutKey(ctx, kv, &recs[i])
				if err != nil {
					log.Warn("API key not synced", "key_id", recs[i].ID, "err", err)
					continue
				}
				if wrote {
					n++
				}
			}
			if n > 0 {
				log.Info("API keys synced to the mesh", "changed", n, "total", len(recs))
			}
			last = stamp
			return nil
		}()
		if err != nil && !errors.Is(err, context.Canceled) && !warned {
			log.Warn("API key store unavailable; edges keep the keys they have", "err", err)
			warned = true
		} else if err == nil {
			warned = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
