// Package nats embeds a NATS server (github.com/nats-io/nats-server/v2) in the
// avap process.
//
// It turns a small [Options] struct into server.Options, starts the server,
// waits until it accepts connections (and JetStream is up when enabled), and
// shuts it down, optionally in lame-duck mode. The package installs no signal
// handlers and starts no goroutines before [Server.Start]; signal handling
// belongs to cmd/avap, the only importer (it imports this package as
// natsembed to avoid the clash with nats.go).
//
// With an empty Options.Listen the server opens no TCP port at all and clients
// connect in-process: pass the *Server to nats.go's nats.InProcessServer
// option, since it implements InProcessConn.
//
// Errors: New returns every invalid option at once (errors.Join); Start names
// what failed to come up.
package nats
