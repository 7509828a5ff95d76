package edge

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/pprof"
)

// PprofPrefix is where the net/http/pprof handlers are served when
// Options.Pprof is set (the profile, allocs, heap... endpoints below it).
const PprofPrefix = "/debug/pprof"

// pprofMiddleware serves the runtime profiles under PprofPrefix. It is
// installed only when Options.Pprof is set: profiles expose internals and a
// CPU profile costs a few percent of throughput while it runs, so the
// endpoints are off by default and meant for an admin network.
func pprofMiddleware() fiber.Handler {
	return pprof.New() // its default prefix is "" + "/debug/pprof"
}
