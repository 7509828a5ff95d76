package edge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/avapmesh/avap/bus"
)

// registryListTimeout bounds the registry's list round trip.
const registryListTimeout = 3 * time.Second

// registryEntry is the part of a registry catalogue entry the edge reads
// (the registry package's Entry; the edge does not import the registry).
type registryEntry struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Kind      string    `json:"kind"`
	Hash      string    `json:"hash"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Published time.Time `json:"published"`
}

// registryPackage is one version in GET /api/v1/registry/packages.
type registryPackage struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	Kind       string    `json:"kind,omitempty"`
	Hash       string    `json:"hash,omitempty"`
	Status     string    `json:"status"`
	Deprecated bool      `json:"deprecated"`
	Revoked    bool      `json:"revoked"`
	Reason     string    `json:"reason,omitempty"`
	Published  time.Time `json:"published"`
}

// mountRegistry installs GET /api/v1/registry/packages: the registry's
// catalogue (every version of every package), read over NATS from the
// registry service's list endpoint. 503 when no registry answers.
func (s *Server) mountRegistry(api fiber.Router) {
	api.Get("/registry/packages", s.handleRegistryPackages)
}

func (s *Server) handleRegistryPackages(c *fiber.Ctx) error {
	fail := func(status int, code bus.Code, msg string) error {
		return c.Status(status).JSON(fiber.Map{"success": false, "error": msg, "code": string(code), "request_id": RequestID(c)})
	}
	nc := s.opts.Conn
	if nc == nil {
		return fail(fiber.StatusServiceUnavailable, bus.CodeDependencyUnavailable, "no mesh connection")
	}
	subj, err := bus.RegistrySubject("list")
	if err != nil {
		return fail(fiber.StatusInternalServerError, bus.CodeInternal, err.Error())
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), registryListTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, subj, []byte(`{}`))
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fail(fiber.StatusServiceUnavailable, bus.CodeDependencyUnavailable, "no registry is running")
	case err != nil:
		return fail(fiber.StatusServiceUnavailable, bus.CodeDependencyUnavailable, "the registry did not answer: "+err.Error())
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return fail(fiber.StatusBadGateway, bus.CodeDependencyUnavailable, "registry: "+msg.Header.Get(micro.ErrorHeader))
	}
	var reply struct {
		Entries  []registryEntry `json:"entries"`
		Revision int64           `json:"revision"`
	}
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		return fail(fiber.StatusBadGateway, bus.CodeDependencyUnavailable, "registry: undecodable list reply")
	}
	pkgs := make([]registryPackage, 0, len(reply.Entries))
	for _, e := range reply.Entries {
		pkgs = append(pkgs, registryPackage{
			Name: e.Name, Version: e.Version, Kind: e.Kind, Hash: e.Hash, Status: e.Status,
			Deprecated: e.Status == "deprecated", Revoked: e.Status == "revoked",
			Reason: e.Reason, Published: e.Published,
		})
	}
	slices.SortStableFunc(pkgs, func(a, b registryPackage) int { return cmp.Compare(a.Name, b.Name) })
	return c.JSON(fiber.Map{"packages": pkgs, "revision": reply.Revision})
}
