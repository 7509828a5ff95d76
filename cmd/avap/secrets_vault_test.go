package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeVault serves the two Vault HTTP endpoints the official client calls
// here, with the real response shapes:
//
//	GET  /v1/<mount>/data/<path>   KV v2 read (X-Vault-Token)
//	PUT  /v1/auth/approle/login    AppRole login {role_id, secret_id} (POST works too)
//
// Errors answer {"errors":[...]} as Vault does; a missing secret is a 404
// with an empty errors list.
type fakeVault struct {
	mu        sync.Mutex
	mount     string
	namespace string                       // required X-Vault-Namespace; "" = none
	tokens    map[string]bool              // accepted tokens
	roleID    string                       // AppRole credentials
	secretID  string                       //
	secrets   map[string]map[string]string // path -> data
	reads     int
	logins    int
}

func newFakeVault(t *testing.T) (*fakeVault, *httptest.Server) {
	f := &fakeVault{mount: "secret", tokens: map[string]bool{}, secrets: map[string]map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeVault) set(path, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.secrets[path] == nil {
		f.secrets[path] = map[string]string{}
	}
	f.secrets[path][key] = value
}

func vaultError(w http.ResponseWriter, code int, msgs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if msgs == nil {
		msgs = []string{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": msgs})
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.namespace != "" && r.Header.Get("X-Vault-Namespace") != f.namespace {
		vaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	switch {
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.URL.Path == "/v1/auth/approle/login": // Vault treats PUT as POST; the client sends PUT
		var body struct {
			RoleID   string `json:"role_id"`
			SecretID string `json:"secret_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.RoleID != f.roleID || body.SecretID != f.secretID || f.roleID == "" {
			vaultError(w, http.StatusBadRequest, "invalid role or secret ID")
			return
		}
		f.logins++
		tok := "hvs.approle-issued-token"
		f.tokens[tok] = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"request_id": "6e1c6a2b-3f4d-4c5e-9a1b-2c3d4e5f6a7b", "lease_id": "", "renewable": false, "lease_duration": 0,
			"data": nil, "wrap_info": nil, "warnings": nil,
			"auth": map[string]any{
				"client_token": tok, "accessor": "acc-1", "policies": []string{"default", "avap"},
				"token_policies": []string{"default", "avap"}, "metadata": map[string]string{"role_name": "avap"},
				"lease_duration": 2764800, "renewable": true, "entity_id": "ent-1", "token_type": "service", "orphan": true,
			},
		})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/"+f.mount+"/data/"):
		if !f.tokens[r.Header.Get("X-Vault-Token")] {
			vaultError(w, http.StatusForbidden, "permission denied")
			return
		}
		f.reads++
		data, ok := f.secrets[strings.TrimPrefix(r.URL.Path, "/v1/"+f.mount+"/data/")]
		if !ok {
			vaultError(w, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"request_id": "0b5b8a0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "lease_id": "", "renewable": false, "lease_duration": 0,
			"data": map[string]any{
				"data": data,
				"metadata": map[string]any{"created_time": "2026-11-27T10:00:00.000000Z", "custom_metadata": nil,
					"deletion_time": "", "destroyed": false, "version": 3},
			},
			"wrap_info": nil, "warnings": nil, "auth": nil,
		})
	default:
		vaultError(w, http.StatusNotFound)
	}
}

func writeVaultFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	vaultDSN1 = "postgres://avap:first-Secret-7Q@db:5432/avap"
	vaultDSN2 = "postgres://avap:rotated-Secret-9Z@db:5432/avap"
	vaultDSN3 = "postgres://avap:third-Secret-4K@db2:5432/avap"
)

func TestVaultTokenAuth(t *testing.T) {
	f, srv := newFakeVault(t)
	f.tokens["hvs.static-token"] = true
	f.set("avap/prod", "dsn", vaultDSN1)
	f.set("avap/prod", "admin", "admin-token-0123456789")
	dir := t.TempDir()
	for name, env := range map[string][]string{
		"env token":  {"AVAP_VAULT_TOKEN=hvs.static-token"},
		"token file": {"AVAP_VAULT_TOKEN_FILE=" + writeVaultFile(t, dir, "token", "hvs.static-token\n")},
	} {
		t.Run(name, func(t *testing.T) {
			env = append(env, "AVAP_VAULT_ADDRESS="+srv.URL, "AVAP_POSTGRES_DSN_VAULT=avap/prod#dsn", "AVAP_DEBUG_ADMIN_TOKEN_VAULT=avap/prod#admin")
			res, err := loadConfig(configSource{Env: env})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Config.Postgres.DSN.Reveal(); got != vaultDSN1 {
				t.Errorf("postgres.dsn = %q", got)
			}
			if got := res.Config.Debug.AdminToken.Reveal(); got != "admin-token-0123456789" {
				t.Errorf("debug.admin_token = %q", got)
			}
		})
	}
	if f.reads != 2 {
		t.Errorf("%d KV reads for 2 loads of 2 keys of one secret, want 2 (one per secret and load)", f.reads)
	}

	// A token Vault refuses is a configuration error naming the key.
	_, err := loadConfig(configSource{Env: []string{"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_VAULT_TOKEN=hvs.wrong",
		"AVAP_POSTGRES_DSN_VAULT=avap/prod#dsn"}})
	if err == nil || !strings.Contains(err.Error(), "postgres.dsn_vault") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestVaultAppRole(t *testing.T) {
	f, srv := newFakeVault(t)
	f.roleID, f.secretID, f.namespace = "role-1234", "secret-id-5678-abcd", "team-a"
	f.set("avap/jobs", "callback", "callback-hmac-key-value")
	dir := t.TempDir()
	env := []string{
		"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_VAULT_AUTH=approle", "AVAP_VAULT_NAMESPACE=team-a",
		"AVAP_VAULT_ROLE_ID_FILE=" + writeVaultFile(t, dir, "role_id", "role-1234\n"),
		"AVAP_VAULT_SECRET_ID_FILE=" + writeVaultFile(t, dir, "secret_id", "secret-id-5678-abcd\n"),
		"AVAP_JOBS_CALLBACK_SECRET_VAULT=avap/jobs#callback",
	}
	res, err := loadConfig(configSource{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Config.Jobs.CallbackSecret.Reveal(); got != "callback-hmac-key-value" || f.logins != 1 {
		t.Errorf("jobs.callback_secret = %q after %d logins", got, f.logins)
	}
	// A bad secret_id fails the load, without printing it.
	writeVaultFile(t, dir, "secret_id", "secret-id-WRONG-0000")
	_, err = loadConfig(configSource{Env: env})
	if err == nil || !strings.Contains(err.Error(), "AppRole login") || !strings.Contains(err.Error(), "jobs.callback_secret_vault") {
		t.Fatalf("bad secret_id: %v", err)
	}
	if strings.Contains(err.Error(), "secret-id-WRONG") {
		t.Errorf("error shows the secret_id: %v", err)
	}
}

func TestVaultConfigErrors(t *testing.T) {
	f, srv := newFakeVault(t)
	f.tokens["tok"] = true
	f.set("avap/prod", "other", "x")
	base := []string{"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_VAULT_TOKEN=tok"}
	for name, c := range map[string]struct {
		env  []string
		want string
	}{
		"missing key":     {append(base, "AVAP_POSTGRES_DSN_VAULT=avap/prod#dsn"), `postgres.dsn_vault: the Vault secret secret/avap/prod has no key "dsn"`},
		"missing secret":  {append(base, "AVAP_SENTRY_DSN_VAULT=avap/none#dsn"), "sentry.dsn_vault: no secret at secret/avap/none"},
		"bad reference":   {append(base, "AVAP_POSTGRES_DSN_VAULT=avap/prod"), "postgres.dsn_vault: \"avap/prod\": want <path>#<key>"},
		"two sources":     {append(base, "AVAP_POSTGRES_DSN_VAULT=avap/prod#other", "AVAP_POSTGRES_DSN=postgres://x@y/z"), "postgres.dsn_vault: postgres.dsn is set too"},
		"no address":      {[]string{"AVAP_POSTGRES_DSN_VAULT=avap/prod#dsn"}, "postgres.dsn_vault: needs vault.address"},
		"no token":        {[]string{"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_POSTGRES_DSN_VAULT=avap/prod#other"}, "vault.auth: token needs exactly one of"},
		"bad auth":        {[]string{"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_VAULT_AUTH=ldap"}, `vault.auth: "ldap": want token or approle`},
		"bad address":     {[]string{"AVAP_VAULT_ADDRESS=vault:8200", "AVAP_VAULT_TOKEN=tok"}, "vault.address"},
		"token file gone": {[]string{"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_VAULT_TOKEN_FILE=/nonexistent/token", "AVAP_POSTGRES_DSN_VAULT=avap/prod#other"}, "vault.token_file"},
	} {
		_, err := loadConfig(configSource{Env: c.env})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want a config error with %q", name, err, c.want)
		}
	}
	// The token may not sit in the config file.
	file := writeVaultFile(t, t.TempDir(), "avap.yaml", "vault:\n  token: hvs.in-file\n")
	if _, err := loadConfig(configSource{File: file}); err == nil || !strings.Contains(err.Error(), "vault.token is a secret") {
		t.Errorf("token in file: %v", err)
	}
}

// TestVaultRotationOnReload: SIGHUP reads Vault again. postgres.dsn needs
// a restart, so its rotated value is reported and the running value stays
// while the rest of the reload (log.level) applies. No value is logged.
func TestVaultRotationOnReload(t *testing.T) {
	f, srv := newFakeVault(t)
	f.tokens["tok"] = true
	f.set("avap/prod", "dsn", vaultDSN1)
	dir := t.TempDir()
	cfgFile := writeVaultFile(t, dir, "avap.yaml", "log:\n  level: info\npostgres:\n  dsn_vault: avap/prod#dsn\n")
	src := configSource{File: cfgFile, Env: []string{"AVAP_VAULT_ADDRESS=" + srv.URL, "AVAP_VAULT_TOKEN=tok"}}
	load := func() (*loadResult, error) { return loadConfig(src) }
	res, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := newConfigHolder(res.Config, load, slog.New(slog.NewTextHandler(&logs, nil)))

	f.set("avap/prod", "dsn", vaultDSN2)
	writeVaultFile(t, dir, "avap.yaml", "log:\n  level: debug\npostgres:\n  dsn_vault: avap/prod#dsn\n")
	readsBefore := f.reads
	if err := h.Reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs.String())
	}
	if f.reads != readsBefore+1 {
		t.Errorf("reload read Vault %d times, want 1", f.reads-readsBefore)
	}
	// Only the password differs: applied (new connections take it, secrets_pg.go).
	if cur := h.Current(); cur.Log.Level != "debug" || cur.Postgres.DSN.Reveal() != vaultDSN2 {
		t.Errorf("after reload: log.level %q, postgres.dsn rotated=%v; want debug and the rotated password applied",
			cur.Log.Level, cur.Postgres.DSN.Reveal() == vaultDSN2)
	}
	if !strings.Contains(logs.String(), `msg="postgres password rotated" key=postgres.dsn`) {
		t.Errorf("no rotation line in the log:\n%s", logs.String())
	}

	// Another host: needs a restart; the running DSN stays, with a warning.
	f.set("avap/prod", "dsn", vaultDSN3)
	if err := h.Reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs.String())
	}
	if cur := h.Current(); cur.Postgres.DSN.Reveal() != vaultDSN2 {
		t.Errorf("host change applied on reload (host rotated=%v); want the running DSN kept", cur.Postgres.DSN.Reveal() == vaultDSN3)
	}
	if !strings.Contains(logs.String(), "postgres.dsn changed in Vault (postgres.dsn_vault): it needs a restart (only a password change applies on reload") {
		t.Errorf("no restart warning in the log:\n%s", logs.String())
	}
	// A fresh load (what a restart does) gets the rotated value.
	if res, err := load(); err != nil || res.Config.Postgres.DSN.Reveal() != vaultDSN3 {
		t.Errorf("load after rotation: %v", err)
	}
	for _, secret := range []string{"first-Secret-7Q", "rotated-Secret-9Z", "third-Secret-4K"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log shows a secret value:\n%s", logs.String())
		}
	}

	// --check-config shows the reference and redacts the value.
	code, out, stderr := runCLIAs(t, 1000, src.Env, "edge", "--config", cfgFile, "--check-config")
	if code != exitOK || !strings.Contains(out, "postgres.dsn_vault = avap/prod#dsn") || strings.Contains(out, "rotated-Secret-9Z") {
		t.Errorf("check-config: exit %d\n%s%s", code, out, stderr)
	}
}

// keepRotatedSecrets leaves reloadable fields and unchanged references alone.
func TestKeepRotatedSecrets(t *testing.T) {
	old, cur := defaultConfig(), defaultConfig()
	old.Postgres.DSNVault, cur.Postgres.DSNVault = "a#dsn", "b#dsn" // the reference changed: a normal refused change
	old.Postgres.DSN, cur.Postgres.DSN = "x", "y"
	old.Sentry.DSNVault, cur.Sentry.DSNVault = "s#dsn", "s#dsn"
	old.Sentry.DSN, cur.Sentry.DSN = "https://k1@sentry/1", "https://k2@sentry/1"
	w := keepRotatedSecrets(old, cur)
	if len(w) != 1 || !strings.Contains(w[0], "sentry.dsn changed in Vault (sentry.dsn_vault): it needs a restart (the Sentry client is set up once at start") || cur.Sentry.DSN != "https://k1@sentry/1" || cur.Postgres.DSN != "y" {
		t.Errorf("warnings %q, sentry kept=%v, postgres %q", w, cur.Sentry.DSN == old.Sentry.DSN, cur.Postgres.DSN.Reveal())
	}
	var keys []string
	for _, f := range vaultFields(defaultConfig()) {
		keys = append(keys, f.Key)
	}
	if got := strings.Join(keys, ","); got != "postgres.dsn,jobs.callback_secret,debug.admin_token,sentry.dsn" {
		t.Errorf("secrets with a Vault reference: %s", got)
	}
}
