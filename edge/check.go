package edge

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm/syntax"
)

// maxCheckErrors bounds the errors one check answer lists.
const maxCheckErrors = 50

// checkError is one syntax error of a check answer.
type checkError struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// checkPosition is the position member of the error envelope.
type checkPosition struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// checkAnswer is the body of a check answer.
type checkAnswer struct {
	Success   bool           `json:"success"`
	Error     string         `json:"error,omitempty"`
	Code      string         `json:"code,omitempty"`
	Position  *checkPosition `json:"position,omitempty"`
	Errors    []checkError   `json:"errors"`
	RequestID string         `json:"request_id,omitempty"`
}

// mountCheck installs POST /api/v1/check: a syntax check in the edge, for
// editors (the web console) that want errors with positions without
// storing or running anything. It parses with vm/syntax only; errors that
// need the compiler (unknown commands) show up when the script runs.
func (s *Server) mountCheck(api fiber.Router) {
	api.Post("/check", s.handleCheck)
}

// handleCheck serves POST /api/v1/check with body {"script": "..."}: 200
// {"success": true, "errors": []} when the script parses, else 400 with
// the error envelope (code AVAP_SYNTAX, the first error's position) plus
// "errors", every syntax error in source order.
func (s *Server) handleCheck(c *fiber.Ctx) error {
	if !isJSON(c.Request().Header.ContentType()) {
		return s.checkFail(c, fiber.StatusUnsupportedMediaType, bus.CodeUnsupportedMedia, "content type must be application/json")
	}
	var body struct {
		Script *string `json:"script"`
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	if err := dec.Decode(&body); err != nil {
		return s.checkFail(c, fiber.StatusBadRequest, bus.CodeBadRequest, "request body is not a valid JSON object: "+err.Error())
	}
	if dec.More() {
		return s.checkFail(c, fiber.StatusBadRequest, bus.CodeBadRequest, "request body has data after the JSON object")
	}
	if body.Script == nil {
		return s.checkFail(c, fiber.StatusBadRequest, bus.CodeBadRequest, `check body needs "script" (a string)`)
	}
	ans := checkAnswer{Success: true, Errors: []checkError{}, RequestID: RequestID(c)}
	_, err := syntax.Parse("script", []byte(*body.Script), syntax.Options{})
	var list syntax.ErrorList
	switch {
	case err == nil:
		return c.JSON(ans)
	case errors.As(err, &list) && len(list) > 0:
		for _, e := range list[:min(len(list), maxCheckErrors)] {
			ans.Errors = append(ans.Errors, checkError{Line: int(e.Pos.Line), Column: int(e.Pos.Col), Message: e.Msg})
		}
	default:
		ans.Errors = append(ans.Errors, checkError{Message: err.Error()})
	}
	first := ans.Errors[0]
	ans.Success, ans.Code, ans.Error = false, string(bus.CodeSyntax), first.Message
	if first.Line > 0 {
		ans.Position = &checkPosition{Line: first.Line, Column: first.Column}
	}
	return c.Status(fiber.StatusBadRequest).JSON(ans)
}

func (s *Server) checkFail(c *fiber.Ctx, status int, code bus.Code, msg string) error {
	return c.Status(status).JSON(checkAnswer{Error: msg, Code: string(code), Errors: []checkError{}, RequestID: RequestID(c)})
}
