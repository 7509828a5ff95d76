package edge_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/edge"
)

func TestRegistryPackages(t *testing.T) {
	nc := meshConn(t)
	s := newServer(t, edge.Options{Conn: nc})
	if resp, m := get(t, s, "/api/v1/registry/packages"); resp.StatusCode != 503 || m["code"] != string(bus.CodeDependencyUnavailable) {
		t.Fatalf("no registry: %d %v", resp.StatusCode, m)
	}
	sub, err := nc.Subscribe(bus.RegistryPrefix+".list", func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"entries":[{"name":"b","version":"1.0.0","status":"revoked","reason":"leak"},{"name":"a","version":"0.1.0","status":"deprecated"},{"name":"a","version":"0.2.0","status":"active"}],"revision":7}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	resp, m := get(t, s, "/api/v1/registry/packages")
	pkgs, _ := m["packages"].([]any)
	if resp.StatusCode != 200 || len(pkgs) != 3 || m["revision"] != float64(7) {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	first, last := pkgs[0].(map[string]any), pkgs[2].(map[string]any)
	if first["name"] != "a" || first["deprecated"] != true || first["revoked"] != false || last["revoked"] != true || last["reason"] != "leak" {
		t.Errorf("packages %v", pkgs)
	}
}
