package edge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// checkTimeout bounds one health check.
const checkTimeout = 2 * time.Second

// Check is one component health check. Func returns nil when the
// component is healthy, else an error whose text is shown as its status
// detail (keep secrets out of it).
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// ComponentHealth is one entry of the health report.
type ComponentHealth struct {
	Status string `json:"status"`          // "ok" or "unavailable"
	Error  string `json:"error,omitempty"` // why not ok
}

// Health is the body of /api/v1/health.
type Health struct {
	Status     string                     `json:"status"` // "ok", "unavailable" or "draining"
	Components map[string]ComponentHealth `json:"components"`
}

// errDraining marks the edge itself as going away.
var errDraining = errors.New("shutting down")

// Health runs every check (concurrently, each bounded) and reports. The
// edge itself is one component: unavailable while draining.
func (s *Server) Health(ctx context.Context) (Health, bool) {
	h := Health{Status: "ok", Components: make(map[string]ComponentHealth, len(s.opts.Checks)+1)}
	errs := make([]error, len(s.opts.Checks))
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range s.opts.Checks {
		wg.Go(func() { errs[i] = c.Func(ctx) })
	}
	wg.Wait()
	ok := true
	for i, c := range s.opts.Checks {
		if errs[i] != nil {
			ok = false
			h.Components[c.Name] = ComponentHealth{Status: "unavailable", Error: errs[i].Error()}
		} else {
			h.Components[c.Name] = ComponentHealth{Status: "ok"}
		}
	}
	if s.draining.Load() {
		ok = false
		h.Components["edge"] = ComponentHealth{Status: "unavailable", Error: errDraining.Error()}
		h.Status = "draining"
	} else {
		h.Components["edge"] = ComponentHealth{Status: "ok"}
		if !ok {
			h.Status = "unavailable"
		}
	}
	return h, ok
}

// handleHealth serves /api/v1/health and its AVAP Lite alias /health.
func (s *Server) handleHealth(c *fiber.Ctx) error {
	h, ok := s.Health(c.UserContext())
	if !ok {
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(h)
}

// handleLive is liveness: the process serves HTTP.
func handleLive(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// handleReady is readiness: every component healthy and not draining.
func (s *Server) handleReady(c *fiber.Ctx) error {
	h, ok := s.Health(c.UserContext())
	if !ok {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": h.Status})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
