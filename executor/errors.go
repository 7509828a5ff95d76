package executor

import "errors"

// ErrNoConn is returned by New when Options.Conn is nil.
var ErrNoConn = errors.New("no nats connection")

// ErrCommandNotFound is returned by a CommandStore for a name it does not hold.
var ErrCommandNotFound = errors.New("command not found")

// ErrInvalidCommandName is returned for a command name that is empty, too
// long or holds characters other than letters, digits, '_', '-' and '.'.
var ErrInvalidCommandName = errors.New("invalid command name")

// ErrStopped is returned by Start after Shutdown.
var ErrStopped = errors.New("executor stopped")

// errShutdown is the cancel cause of runs still going when the grace
// period ends.
var errShutdown = errors.New("executor shutting down")
