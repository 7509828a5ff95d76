// Package natstest starts throwaway NATS servers for tests. Import it only
// from _test.go files.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Run starts a NATS server on a random 127.0.0.1 port with JetStream storing
// in t.TempDir(), waits until it accepts connections and stops it when the
// test ends. Connect with s.ClientURL().
func Run(t testing.TB) *server.Server {
	t.Helper()
	return start(t, &server.Options{Host: "127.0.0.1", Port: -1})
}

// RunInProcess is like Run but opens no TCP port; connect with
// nats.Connect("", nats.InProcessServer(s)).
func RunInProcess(t testing.TB) *server.Server {
	t.Helper()
	return start(t, &server.Options{DontListen: true})
}

func start(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	o.NoSigs, o.NoLog = true, true
	o.JetStream, o.StoreDir = true, t.TempDir()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("natstest: server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
