package edge

// onShutdown registers f to run when Shutdown is called (once, after the
// HTTP server stopped), for route files that own a background goroutine
// such as the project watcher.
func (s *Server) onShutdown(f func()) {
	s.hooksMu.Lock()
	s.shutdownHooks = append(s.shutdownHooks, f)
	s.hooksMu.Unlock()
}

func (s *Server) runShutdownHooks() {
	s.hooksMu.Lock()
	hooks := s.shutdownHooks
	s.shutdownHooks = nil
	s.hooksMu.Unlock()
	for _, f := range hooks {
		f()
	}
}
