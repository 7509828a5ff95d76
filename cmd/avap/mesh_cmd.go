package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/avapmesh/avap/bus"
)

// meshCommand is `avap mesh`: the live nodes of the mesh with their roles,
// version, zone, load and last heartbeat, asked over NATS (nats.url) or
// from a node's /api/v1/info (--server).
func (a *app) meshCommand() *cobra.Command {
	var server string
	var wait time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "List the live nodes of the mesh (roles, version, zone, load, last heartbeat)",
		Long: `mesh pings every node over the NATS servers of nats.url (the nodes answer
with their heartbeat at once) and lists them. With --server it asks a running
edge instead: GET <server>/api/v1/info, whose mesh.nodes comes from the
heartbeats that edge heard.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var members []bus.Member
			var err error
			if server != "" {
				members, err = meshFromServer(cmd.Context(), server, wait)
			} else {
				members, err = a.meshFromNATS(cmd.Context(), wait)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(members)
			}
			writeMesh(a.stdout, members, time.Now())
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "ask this node's HTTP API (e.g. http://127.0.0.1:8080) instead of NATS")
	cmd.Flags().DurationVar(&wait, "wait", time.Second, "how long to wait for answers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) meshFromNATS(ctx context.Context, wait time.Duration) ([]bus.Member, error) {
	nc, _, err := a.connectMesh()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	hbs, err := bus.PingMesh(ctx, nc, wait)
	if err != nil {
		return nil, err
	}
	m := bus.NewMembers(nil)
	for _, hb := range hbs {
		m.Observe(hb)
	}
	out := m.List()
	for i := range out { // the answer to the ping is the freshest heartbeat
		out[i].LastSeen = out[i].Sent
		out[i].AgeMS = 0
	}
	return out, nil
}

// maxInfoBytes bounds the /api/v1/info answer read by --server.
const maxInfoBytes = 8 << 20

func meshFromServer(ctx context.Context, server string, wait time.Duration) ([]bus.Member, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host:port", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/info"
	ctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxInfoBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInfoBytes {
		return nil, errors.New("info answer too large")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var info struct {
		Mesh struct {
			Nodes []bus.Member `json:"nodes"`
		} `json:"mesh"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("GET %s: not an info document: %w", u, err)
	}
	return info.Mesh.Nodes, nil
}

func writeMesh(w io.Writer, members []bus.Member, now time.Time) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tID\tVERSION\tZONE\tLOAD\tIN FLIGHT\tQUEUED\tHTTP\tLAST HEARTBEAT\tUPTIME")
	for _, m := range members {
		zone := m.Zone
		if zone == "" {
			zone = "-"
		}
		last := time.Duration(m.AgeMS) * time.Millisecond
		if m.AgeMS == 0 && !m.LastSeen.IsZero() {
			last = max(now.Sub(m.LastSeen), 0)
		}
		up := "-"
		if !m.Started.IsZero() {
			up = now.Sub(m.Started).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%d\t%d\t%s\t%s ago\t%s\n", m.Role, m.ID, m.Version, zone,
			m.Load, m.InFlight, m.Queued, m.HTTP, last.Round(time.Millisecond), up)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d nodes\n", len(members))
}
