package main

import "fmt"

// Secret files besides postgres.dsn_file (config_load.go): the admin
// token, the callback key and the Sentry DSN may come from a file,
// typically a mounted Kubernetes Secret. Files are read on every configuration load (start,
// --check-config, SIGHUP), so a rotated file applies on reload; both
// fields are reloadable (secrets_reload.go).

// resolveSecretFiles fills each secret from its *_file and returns the
// problems met (never the value).
func (c *Config) resolveSecretFiles() []string {
	var problems []string
	for _, f := range []struct {
		key, file string
		val       *Secret
	}{
		{"debug.admin_token", c.Debug.AdminTokenFile, &c.Debug.AdminToken},
		{"jobs.callback_secret", c.Jobs.CallbackSecretFile, &c.Jobs.CallbackSecret},
		{"sentry.dsn", c.Sentry.DSNFile, &c.Sentry.DSN},
	} {
		if f.file == "" {
			continue
		}
		if *f.val != "" {
			problems = append(problems, fmt.Sprintf("%s_file: %s is set too (environment); use one source", f.key, f.key))
			continue
		}
		s, err := readSecretFile(f.key+"_file", f.file)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		*f.val = Secret(s)
	}
	return problems
}
