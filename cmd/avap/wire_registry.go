package main

// newRegistry builds the registry component for `avap serve` and
// `avap registry`. It starts after the NATS connection and before the
// executor. Hook for the registry issue: replace the placeholder;
// w.Config.Current().Postgres.DSN.Reveal() is the database DSN ("" = none).
func newRegistry(w wiring) (component, error) {
	return newPlaceholder("registry", w.Log), nil
}
