package main

import (
	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/executor"
)

// Secrets that a reload (SIGHUP) applies without a restart. A reload
// reads *_file keys (secrets_file.go) and Vault again; each of these is
// tagged reload:"true" (or, for postgres.dsn, reload:"password") so the
// reload machinery accepts the change, and a hook here pushes the new
// value into the component that holds it in an atomic value. Values
// never reach a log line: the reload logs field names only.
//
//	debug.admin_token      edge.Server.SetAdminToken: the old token is refused at once
//	jobs.callback_secret   executor.JobRunner.SetCallbackSecret: callbacks sent
//	                       from then on are signed with the new key only
//
// sentry.dsn stays restart-only: the Sentry client is built once at start.

// watchAdminToken pushes debug.admin_token into s on every accepted
// reload that changed it.
func watchAdminToken(w wiring, s *edge.Server) {
	w.Config.OnReload(func(old, cur *Config) {
		if old.Debug.AdminToken != cur.Debug.AdminToken {
			s.SetAdminToken(cur.Debug.AdminToken.Reveal())
		}
	})
}

// watchCallbackSecret pushes jobs.callback_secret into r on every
// accepted reload that changed it. Called once, when the runner is built;
// the value is set again after registering so a reload racing the start
// is not lost.
func watchCallbackSecret(w wiring, r *executor.JobRunner) {
	w.Config.OnReload(func(old, cur *Config) {
		if old.Jobs.CallbackSecret != cur.Jobs.CallbackSecret {
			r.SetCallbackSecret([]byte(cur.Jobs.CallbackSecret.Reveal()))
		}
	})
	r.SetCallbackSecret([]byte(w.Config.Current().Jobs.CallbackSecret.Reveal()))
}

// restartReason says why a rotated secret is not applied on reload.
func restartReason(key string) string {
	switch key {
	case "sentry.dsn":
		return "it needs a restart (the Sentry client is set up once at start; error reports keep going to the old DSN)"
	case "postgres.dsn":
		return "it needs a restart (only a password change applies on reload; host, port, database, user or options changed)"
	}
	return "it needs a restart"
}
