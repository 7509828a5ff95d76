package edge

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
)

// DefaultDiscoveryWait bounds how long /api/v1/info waits for executors.
const DefaultDiscoveryWait = 250 * time.Millisecond

// MeshMember is one executor found through micro discovery.
type MeshMember struct {
	ID        string            `json:"id"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Started   time.Time         `json:"started,omitzero"`
	Endpoints []string          `json:"endpoints,omitempty"`
	Stats     json.RawMessage   `json:"stats,omitempty"` // executor.Stats
}

// Mesh discovers the executors on nc ($SRV.INFO and $SRV.STATS of
// avap-executor), sorted by id.
func Mesh(ctx context.Context, nc *nats.Conn, wait time.Duration) ([]MeshMember, error) {
	infos, err := bus.Discover(ctx, nc, "INFO", bus.ExecutorService, wait)
	if err != nil {
		return nil, err
	}
	stats, err := bus.Discover(ctx, nc, "STATS", bus.ExecutorService, wait)
	if err != nil {
		return nil, err
	}
	byID := map[string]*MeshMember{}
	member := func(id string) *MeshMember {
		m := byID[id]
		if m == nil {
			m = &MeshMember{ID: id}
			byID[id] = m
		}
		return m
	}
	for _, b := range infos {
		var in micro.Info
		if json.Unmarshal(b, &in) != nil {
			continue
		}
		m := member(in.ID)
		m.Version, m.Metadata = in.Version, in.Metadata
		for _, ep := range in.Endpoints {
			m.Endpoints = append(m.Endpoints, ep.Subject)
		}
	}
	for _, b := range stats {
		var st micro.Stats
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		m := member(st.ID)
		m.Started = st.Started
		if m.Version == "" {
			m.Version, m.Metadata = st.Version, st.Metadata
		}
		for _, ep := range st.Endpoints {
			if len(ep.Data) > 0 && string(ep.Data) != "null" {
				m.Stats = ep.Data // every endpoint carries the executor-wide stats
				break
			}
		}
	}
	out := make([]MeshMember, 0, len(byID))
	for _, m := range byID {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// MeshInfo returns an Options.InfoExtra function that adds the mesh
// members ("mesh": {"executors": [...]}) and the language facts the
// executors advertise ("language": {"version", "commands"}) to
// /api/v1/info.
func MeshInfo(nc *nats.Conn, wait time.Duration) func(ctx context.Context) map[string]any {
	if wait <= 0 {
		wait = DefaultDiscoveryWait
	}
	return func(ctx context.Context) map[string]any {
		members, err := Mesh(ctx, nc, wait)
		mesh := map[string]any{"executors": members}
		if err != nil {
			mesh["error"] = err.Error()
		}
		lang := map[string]any{}
		for _, m := range members {
			if v := m.Metadata["language_version"]; v != "" {
				lang["version"] = v
			}
			if v := m.Metadata["commands"]; v != "" {
				var cmds []string
				if json.Unmarshal([]byte(v), &cmds) == nil {
					lang["commands"] = cmds
				}
			}
			if len(lang) == 2 {
				break
			}
		}
		return map[string]any{"mesh": mesh, "language": lang}
	}
}
