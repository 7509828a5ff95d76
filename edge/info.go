package edge

import (
	"maps"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Info holds the facts /api/v1/info reports. It must never hold secrets.
type Info struct {
	Name      string    // product name, "avap"
	Version   string    // release version, injected at build time
	Commit    string    // VCS commit
	BuildDate string    // RFC 3339 build time
	GoVersion string    // runtime.Version()
	NodeID    string    // this node's id
	Roles     []string  // roles this process plays: edge, executor, registry, nats
	StartTime time.Time // process start
}

// handleInfo serves /api/v1/info.
func (s *Server) handleInfo(c *fiber.Ctx) error {
	in := s.opts.Info
	now := time.Now()
	body := map[string]any{
		"name":           in.Name,
		"version":        in.Version,
		"commit":         in.Commit,
		"build_date":     in.BuildDate,
		"go_version":     in.GoVersion,
		"node_id":        in.NodeID,
		"roles":          in.Roles,
		"start_time":     in.StartTime.UTC().Format(time.RFC3339Nano),
		"uptime":         now.Sub(in.StartTime).Round(time.Second).String(),
		"uptime_seconds": int64(now.Sub(in.StartTime).Seconds()),
	}
	if s.opts.InfoExtra != nil {
		maps.Copy(body, s.opts.InfoExtra(c.UserContext()))
	}
	return c.JSON(body)
}
