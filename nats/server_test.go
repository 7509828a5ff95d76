package nats_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	natsembed "github.com/avapmesh/avap/nats"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startServer(t *testing.T, o natsembed.Options) *natsembed.Server {
	t.Helper()
	s, err := natsembed.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func TestInProcessJetStream(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, natsembed.Options{JetStream: true, StoreDir: dir})
	select {
	case <-s.Ready():
	default:
		t.Fatal("Ready not closed after Start")
	}
	if u := s.ClientURL(); u != "" {
		t.Errorf("ClientURL = %q, want empty without a listener", u)
	}
	if !s.JetStreamEnabled() {
		t.Fatal("jetstream not enabled")
	}

	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v" {
		t.Fatalf("kv get = %v, %v", e, err)
	}

	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Running() {
		t.Fatal("still running after Shutdown")
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestNoTCPListenerByDefault(t *testing.T) {
	s := startServer(t, natsembed.Options{})
	// The default client port must stay free for another NATS server; the
	// embedded one opened nothing, so a fresh client cannot reach it via TCP.
	if s.ClientURL() != "" {
		t.Fatal("listener opened")
	}
	if s.NumClients() != 0 {
		t.Fatalf("clients = %d", s.NumClients())
	}
}

func TestListenRandomPort(t *testing.T) {
	s := startServer(t, natsembed.Options{Listen: "127.0.0.1:0", JetStream: true, StoreDir: t.TempDir()})
	u := s.ClientURL()
	if !strings.HasPrefix(u, "nats://127.0.0.1:") || strings.HasSuffix(u, ":0") {
		t.Fatalf("ClientURL = %q", u)
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(u, "nats://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, _ := nc.SubscribeSync("x")
	_ = nc.Publish("x", []byte("1"))
	if _, err := sub.NextMsg(time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestLameDuckShutdown(t *testing.T) {
	s := startServer(t, natsembed.Options{Listen: "127.0.0.1:0", LameDuckDuration: 200 * time.Millisecond})
	nc, err := nats.Connect(s.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Running() {
		t.Fatal("still running")
	}
}

func TestValidateListsAllProblems(t *testing.T) {
	_, err := natsembed.New(natsembed.Options{
		Listen:        "nope",
		ClusterListen: "127.0.0.1:x",
		Routes:        []string{"::bad"},
		JetStream:     true,
		MaxStore:      -1,
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"listen", "cluster listen", "cluster name", "route", "store directory", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestStartCanceled(t *testing.T) {
	s, err := natsembed.New(natsembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if err := s.Start(t.Context()); err == nil {
		t.Fatal("second Start succeeded")
	}
	// Shutdown of a server that never started is a no-op.
	s2, _ := natsembed.New(natsembed.Options{})
	if err := s2.Shutdown(t.Context()); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
