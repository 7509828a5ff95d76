package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// HashiCorp Vault as an optional source of secrets (the official client,
// KV v2, token or AppRole auth).
//
// Every Secret-typed config field X may have a sibling string field
// X_vault (postgres.dsn_vault, sentry.dsn_vault, ...) holding a reference
// "<path>#<key>": the value of <key> in the KV v2 secret at <path> under
// vault.mount. References are not secret, so they may sit in the config
// file. They are resolved on every configuration load: at start, by
// --check-config and on SIGHUP, so a value rotated in Vault is read again
// on reload. A rotated value of a reloadable field applies at once; for a
// field that needs a restart the running value stays and the reload logs
// a warning naming the field (keepRotatedSecrets), instead of refusing
// the whole reload. Values live only in Secret fields: never logged,
// redacted in --check-config and in backups.

// VaultConfig is the connection to Vault.
type VaultConfig struct {
	Address      string        `koanf:"address" help:"Vault server URL (https://vault:8200); empty = Vault off (the *_vault keys need it)"`
	Auth         string        `koanf:"auth" help:"token (vault.token or vault.token_file) or approle (vault.role_id_file and vault.secret_id_file)"`
	Token        Secret        `koanf:"token" help:"Vault token for auth token (secret: env only)"`
	TokenFile    string        `koanf:"token_file" help:"file holding the Vault token (auth token); re-read on every load"`
	RoleIDFile   string        `koanf:"role_id_file" help:"file holding the AppRole role_id (auth approle)"`
	SecretIDFile string        `koanf:"secret_id_file" help:"file holding the AppRole secret_id (auth approle); re-read on every load"`
	AppRoleMount string        `koanf:"approle_mount" help:"mount path of the AppRole auth method"`
	Mount        string        `koanf:"mount" help:"mount path of the KV v2 secrets engine the *_vault references are under"`
	Namespace    string        `koanf:"namespace" help:"Vault Enterprise namespace; empty = none"`
	CAFile       string        `koanf:"ca_file" help:"PEM CA bundle verifying the Vault server; empty = system roots"`
	Timeout      time.Duration `koanf:"timeout" help:"bound on reading all secrets of one configuration load (login included)"`
}

func defaultVaultConfig() VaultConfig {
	return VaultConfig{Auth: "token", AppRoleMount: "approle", Mount: "secret", Timeout: 10 * time.Second}
}

// vaultField is a Secret field with a Vault reference.
type vaultField struct {
	Key    string  // e.g. "postgres.dsn"
	RefKey string  // e.g. "postgres.dsn_vault"
	Ref    string  // "<path>#<key>"
	Value  *Secret // the field itself
}

// vaultFields lists the Secret fields of c that have a _vault sibling,
// with or without a reference set.
func vaultFields(c *Config) []vaultField {
	var out []vaultField
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		byName := map[string]int{}
		for i := range t.NumField() {
			byName[t.Field(i).Tag.Get("koanf")] = i
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("koanf")
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]():
				walk(v.Field(i), prefix+name+".")
			case f.Type == reflect.TypeFor[Secret]():
				j, ok := byName[name+"_vault"]
				if !ok || t.Field(j).Type.Kind() != reflect.String {
					continue
				}
				out = append(out, vaultField{Key: prefix + name, RefKey: prefix + name + "_vault",
					Ref: v.Field(j).String(), Value: v.Field(i).Addr().Interface().(*Secret)})
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// parseVaultRef splits "<path>#<key>".
func parseVaultRef(ref string) (path, key string, err error) {
	path, key, ok := strings.Cut(ref, "#")
	if !ok || path == "" || key == "" || strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(key, "#") {
		return "", "", fmt.Errorf("%q: want <path>#<key>, e.g. avap/prod#dsn (path under vault.mount)", ref)
	}
	return path, key, nil
}

// resolveVault fills every Secret field that has a Vault reference and
// returns the problems met, each naming its key. Nothing is done (and
// Vault is not contacted) when no reference is set.
func (c *Config) resolveVault() []string {
	var problems []string
	var refs []vaultField
	for _, f := range vaultFields(c) {
		if f.Ref == "" {
			continue
		}
		if _, _, err := parseVaultRef(f.Ref); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.RefKey, err))
			continue
		}
		if *f.Value != "" {
			problems = append(problems, fmt.Sprintf("%s: %s is set too (environment or *_file); use one source", f.RefKey, f.Key))
			continue
		}
		refs = append(refs, f)
	}
	vc := c.Vault
	if vc.Address == "" {
		for _, f := range refs {
			problems = append(problems, fmt.Sprintf("%s: needs vault.address", f.RefKey))
		}
		return problems
	}
	if p := vc.validate(); len(p) > 0 || len(refs) == 0 {
		return append(problems, p...)
	}
	if len(problems) > 0 {
		return problems
	}
	ctx, cancel := context.WithTimeout(context.Background(), vc.Timeout)
	defer cancel()
	client, err := newVaultClient(ctx, vc)
	if err != nil {
		return []string{fmt.Sprintf("vault: %v (needed by %s)", err, refs[0].RefKey)}
	}
	secrets := map[string]map[string]any{} // by path: one read per secret
	for _, f := range refs {
		path, key, _ := parseVaultRef(f.Ref)
		data, ok := secrets[path]
		if !ok {
			s, err := client.KVv2(vc.Mount).Get(ctx, path)
			switch {
			case errors.Is(err, vault.ErrSecretNotFound):
				problems = append(problems, fmt.Sprintf("%s: no secret at %s/%s in Vault (KV v2 mount %s)", f.RefKey, vc.Mount, path, vc.Mount))
				continue
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s: read %s/%s from Vault: %v", f.RefKey, vc.Mount, path, err))
				continue
			}
			data = s.Data
			secrets[path] = data
		}
		v, ok := data[key]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: the Vault secret %s/%s has no key %q", f.RefKey, vc.Mount, path, key))
			continue
		}
		str, ok := v.(string)
		if !ok || str == "" {
			problems = append(problems, fmt.Sprintf("%s: key %q of the Vault secret %s/%s is not a non-empty string", f.RefKey, key, vc.Mount, path))
			continue
		}
		*f.Value = Secret(str)
	}
	return problems
}

// validate checks the vault section; only called when it is used.
func (vc VaultConfig) validate() []string {
	var p []string
	if u, err := url.Parse(vc.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p = append(p, fmt.Sprintf("vault.address: %q: want http(s)://host:port", vc.Address))
	}
	switch vc.Auth {
	case "token":
		if (vc.Token == "") == (vc.TokenFile == "") {
			p = append(p, "vault.auth: token needs exactly one of vault.token (AVAP_VAULT_TOKEN) and vault.token_file")
		}
	case "approle":
		if vc.RoleIDFile == "" || vc.SecretIDFile == "" {
			p = append(p, "vault.auth: approle needs vault.role_id_file and vault.secret_id_file")
		}
		if vc.AppRoleMount == "" {
			p = append(p, "vault.approle_mount: must not be empty")
		}
	default:
		p = append(p, fmt.Sprintf("vault.auth: %q: want token or approle", vc.Auth))
	}
	if vc.Mount == "" || strings.Trim(vc.Mount, "/") != vc.Mount {
		p = append(p, fmt.Sprintf("vault.mount: %q: want a mount path without slashes at the ends, e.g. secret", vc.Mount))
	}
	if vc.Timeout <= 0 {
		p = append(p, "vault.timeout: must be positive")
	}
	return p
}

// readSecretFile reads a one-line credential file.
func readSecretFile(key, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", key, errors.Unwrap(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return s, nil
}

// newVaultClient connects and authenticates (AppRole: logs in).
func newVaultClient(ctx context.Context, vc VaultConfig) (*vault.Client, error) {
	cfg := vault.DefaultConfig() // also reads VAULT_* variables; the settings below win
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = vc.Address
	cfg.Timeout = vc.Timeout
	cfg.MaxRetries = 1
	if vc.CAFile != "" {
		if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: vc.CAFile}); err != nil {
			return nil, fmt.Errorf("vault.ca_file: %w", err)
		}
	}
	client, err := vault.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if vc.Namespace != "" {
		client.SetNamespace(vc.Namespace)
	}
	switch vc.Auth {
	case "token":
		tok := vc.Token.Reveal()
		if vc.TokenFile != "" {
			if tok, err = readSecretFile("vault.token_file", vc.TokenFile); err != nil {
				return nil, err
			}
		}
		client.SetToken(tok)
	case "approle":
		roleID, err := readSecretFile("vault.role_id_file", vc.RoleIDFile)
		if err != nil {
			return nil, err
		}
		secretID, err := readSecretFile("vault.secret_id_file", vc.SecretIDFile)
		if err != nil {
			return nil, err
		}
		client.ClearToken()
		s, err := client.Logical().WriteWithContext(ctx, "auth/"+vc.AppRoleMount+"/login",
			map[string]any{"role_id": roleID, "secret_id": secretID})
		if err != nil {
			return nil, fmt.Errorf("AppRole login at auth/%s/login: %w", vc.AppRoleMount, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return nil, fmt.Errorf("AppRole login at auth/%s/login: no client token in the answer", vc.AppRoleMount)
		}
		client.SetToken(s.Auth.ClientToken)
	}
	return client, nil
}

// keepRotatedSecrets runs on reload before the diff: a Vault-sourced
// secret whose value changed but whose field needs a restart keeps its
// running value in cur, so the rest of the reload applies; the returned
// warnings name each such field (never the value).
func keepRotatedSecrets(old, cur *Config) []string {
	reloadable := map[string]bool{} // changed keys a reload applies (a postgres.dsn password too)
	for _, c := range diffConfig(old, cur) {
		reloadable[c.Key] = c.Reload
	}
	prev := map[string]vaultField{}
	for _, f := range vaultFields(old) {
		prev[f.Key] = f
	}
	var warnings []string
	for _, f := range vaultFields(cur) {
		p := prev[f.Key]
		if f.Ref == "" || f.Ref != p.Ref || *f.Value == *p.Value || reloadable[f.Key] {
			continue
		}
		*f.Value = *p.Value
		warnings = append(warnings, fmt.Sprintf("%s changed in Vault (%s): %s, the running value stays until then", f.Key, f.RefKey, restartReason(f.Key)))
	}
	return warnings
}
