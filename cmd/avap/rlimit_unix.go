//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (every
// connection and JetStream file needs a descriptor) and logs what it got.
// Running as root is decided in privilege.go.
func raiseFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("read file descriptor limit", "err", err)
		return
	}
	before := lim.Cur
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("raise file descriptor limit", "soft", before, "hard", lim.Max, "err", err)
			return
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("read file descriptor limit", "err", err)
			return
		}
	}
	log.Info("file descriptor limit", "before", before, "after", lim.Cur, "hard", lim.Max)
}
