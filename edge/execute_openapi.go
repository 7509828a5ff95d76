package edge

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDoc is the OpenAPI 3 document of the whole HTTP API. The test
// TestOpenAPIMatchesRoutes keeps it in step with the registered routes.
//
//go:embed openapi.json
var openAPIDoc []byte

func handleOpenAPI(c *fiber.Ctx) error {
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return c.Send(openAPIDoc)
}
