//go:build unix

package main

import (
	"log/slog"
	"os"
	"syscall"
)

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (every
// connection and JetStream file needs a descriptor) and logs what it got.
// It also warns when the process runs as root.
func raiseFileLimit(log *slog.Logger) {
	if os.Geteuid() == 0 {
		log.Warn("running as root (euid 0): a compromised or misbehaving process could change the whole system; run avap as an unprivileged user (see deploy/systemd and deploy/kubernetes)")
	}
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
