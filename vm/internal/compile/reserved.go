package compile

// globalOnly reports whether name is a reserved variable that a function
// body reads and writes as the global even without `$`: `_status`, so that
// an endpoint handler or middleware (registerEndpoint) can set the HTTP
// status of the request. A go_async block keeps it in its own scope like
// any other variable (gather does not merge names starting with "_"), and
// a parameter of that name stays a parameter.
func (fs *fstate) globalOnly(name string) bool {
	if name != "_status" || fs.async {
		return false
	}
	_, param := fs.locals[name]
	return !param
}
