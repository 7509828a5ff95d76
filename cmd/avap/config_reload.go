package main

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// configChange is one leaf key whose value differs between two configs.
type configChange struct {
	Key    string
	Reload bool   // allowed at run time (reload:"true" on the field or a parent)
	Note   string // logged when applied (e.g. "postgres password rotated"); or ""
}

// diffConfig lists the keys that differ between a and b, in schema order.
// The allow-list is the reload:"true" struct tag, so a later issue makes a
// field reloadable by tagging it (and applying it in a reload hook).
func diffConfig(a, b *Config) []configChange {
	var out []configChange
	var walk func(x, y reflect.Value, prefix string, reload bool)
	walk = func(x, y reflect.Value, prefix string, reload bool) {
		t := x.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + f.Tag.Get("koanf")
			r := reload || f.Tag.Get("reload") == "true"
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(x.Field(i), y.Field(i), key+".", r)
				continue
			}
			if !reflect.DeepEqual(x.Field(i).Interface(), y.Field(i).Interface()) {
				c := configChange{Key: key, Reload: r}
				// reload:"password": a DSN whose password alone changed
				// (new connections take it: secrets_pg.go).
				if !r && f.Tag.Get("reload") == "password" && passwordOnlyChange(x.Field(i).String(), y.Field(i).String()) {
					c.Reload, c.Note = true, strings.TrimSuffix(key, ".dsn")+" password rotated"
				}
				out = append(out, c)
			}
		}
	}
	walk(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "", false)
	return out
}

// errReloadRefused wraps a reload that changed fields which need a restart.
var errReloadRefused = errors.New("config reload not supported")

// reloadHook applies an accepted change; it must not fail half-way (check
// what can fail in validate instead).
type reloadHook func(old, cur *Config)

// configHolder owns the running configuration snapshot and its reloads.
type configHolder struct {
	cur  atomic.Pointer[Config]
	load func() (*loadResult, error) // reads file and env again
	log  *slog.Logger

	mu    sync.Mutex // guards hooks and serializes Reload
	hooks []reloadHook

	lastOK   atomic.Bool
	lastTime atomic.Int64 // unix seconds of the last successful reload
}

func newConfigHolder(cfg *Config, load func() (*loadResult, error), log *slog.Logger) *configHolder {
	h := &configHolder{load: load, log: log}
	h.cur.Store(cfg)
	h.lastOK.Store(true)
	return h
}

// Current returns the running snapshot; call it once per operation.
func (h *configHolder) Current() *Config { return h.cur.Load() }

// OnReload registers a hook called after an accepted reload, before the
// new snapshot becomes current.
func (h *configHolder) OnReload(fn reloadHook) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, fn)
}

// Reload runs load -> validate -> diff -> apply -> swap. On any error the
// old config stays and the error says why (naming refused fields).
func (h *configHolder) Reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	start := time.Now()
	h.log.Info("loading config")
	err := h.reload()
	h.lastOK.Store(err == nil)
	if err != nil {
		h.log.Error("config reload failed; keeping the running config", "err", err, "duration", time.Since(start))
		return err
	}
	h.lastTime.Store(time.Now().Unix())
	return nil
}

func (h *configHolder) reload() error {
	res, err := h.load()
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		h.log.Warn(w)
	}
	old, cur := h.cur.Load(), res.Config
	for _, w := range keepRotatedSecrets(old, cur) { // rotated in Vault, needs a restart (secrets_vault.go)
		h.log.Warn(w)
	}
	changes := diffConfig(old, cur)
	var refused, applied []string
	for _, c := range changes {
		if c.Reload {
			applied = append(applied, c.Key)
		} else {
			refused = append(refused, c.Key)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%w for %s (restart to change it)", errReloadRefused, strings.Join(refused, ", "))
	}
	start := time.Now()
	for _, fn := range h.hooks {
		fn(old, cur)
	}
	h.cur.Store(cur)
	for _, c := range changes {
		if c.Note != "" {
			h.log.Info(c.Note, "key", c.Key)
		}
	}
	if len(applied) == 0 {
		applied = []string{"none"}
	}
	h.log.Info("config reloaded", "changed", strings.Join(applied, ","), "duration", time.Since(start))
	return nil
}
