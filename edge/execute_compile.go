package edge

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// compileTimeout bounds a compile-and-store round trip.
const compileTimeout = 10 * time.Second

// handleCompile serves POST /api/v1/compile, AVAP Lite's {"name", "script"}:
// an executor compile-checks the script and stores it under name, so
// {"command": name} runs it. Syntax errors answer 400 with their position.
func (x *executeAPI) handleCompile(c *fiber.Ctx) error {
	if !acceptsJSON(c.Request().Header.ContentType(), c.Body()) {
		return x.sendError(c, nil, bus.CodeUnsupportedMedia, "content type must be application/json")
	}
	st := x.getState()
	defer x.putState(st)
	err := scanObject(c.Body(), func(k, v []byte) error {
		var err error
		switch b2s(k) {
		case "name":
			st.req.Name, err = stringMember(v, "name")
		case "script":
			st.req.Script, err = x.jsonString(st, v, "script")
		}
		return err
	})
	if err == nil && (st.req.Name == "" || st.req.Script == "") {
		err = errors.New(`compile body needs "name" and "script"`)
	}
	if err != nil {
		return x.sendError(c, st, bus.CodeBadRequest, bodyError(err).Error())
	}
	if x.nc == nil {
		return x.sendError(c, st, bus.CodeNoExecutor, "no mesh connection")
	}
	st.req.ID = RequestID(c)
	ctx, cancel := context.WithTimeout(c.UserContext(), compileTimeout)
	defer cancel()
	if err := bus.Call(ctx, x.nc, bus.CompileSubject, &st.req, &st.rep, st.enc); err != nil {
		var be *bus.Error
		if !errors.As(err, &be) {
			be = bus.NewError(bus.CodeInternal, err.Error())
		}
		fillError(&st.rep, be.Code, be.Description)
	}
	return x.send(c, st)
}
