package main

// newExecutor builds the executor component for `avap serve` and
// `avap executor`. It runs after the NATS connection is up (w.Conn is set).
//
// Hook for the mesh engineer (issue 4): replace the placeholder with
// executor.New(executor.Options{Conn: w.Conn, Logger: w.Log, ...}) built
// from w.Config.Current().Executor; *executor.Executor already satisfies
// component. Register a w.Config.OnReload hook (or read Current() per run)
// for executor.limits, which SIGHUP may change.
func newExecutor(w wiring) (component, error) {
	return newPlaceholder("executor", w.Log), nil
}
