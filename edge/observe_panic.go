package edge

import (
	"fmt"
	"runtime/debug"

	"github.com/gofiber/fiber/v2"
)

// next is c.Next() that turns a panic of a handler into a 500 answer
// instead of a crashed process. The panic is logged at error level with
// its stack, request_id and trace_id (the Sentry hook of cmd/avap sends
// such lines). A deferred recover costs nothing until something panics.
func (s *Server) next(c *fiber.Ctx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.Logger(c).Error("handler panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
				"method", c.Method(), "path", c.Path())
			err = fiber.NewError(fiber.StatusInternalServerError, "internal error")
		}
	}()
	return c.Next()
}
