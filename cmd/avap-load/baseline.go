package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gofiber/fiber/v2"
)

// baselineCommand is the hidden first argument that turns the harness binary
// into the baseline server (a child process, so that its CPU and memory are
// measured exactly like avap's and it does not share a Go runtime with the
// load generator).
const baselineCommand = "baseline-server"

// baselineEnvelope is the fixed reply: the same shape and about the same
// size as avap's success envelope for the trivial script.
const baselineEnvelope = `{"success":true,"result":{"x":5},"variables":{"x":5},"logs":[],"stats":{"steps":4,"duration_us":1},"request_id":"01J00000000000000000000000"}`

// runBaselineServer serves, on $AVAP_HTTP_ADDR, what a bare Fiber app can
// do with the same request: decode the JSON body like the edge would
// (script, variables, params) and send a fixed envelope. It also answers
// /readyz and the batch endpoint, so that --stub can exercise the harness
// without avap.
func runBaselineServer() error {
	addr := os.Getenv("AVAP_HTTP_ADDR")
	if addr == "" {
		return fmt.Errorf("%s: AVAP_HTTP_ADDR is not set", baselineCommand)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/readyz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Post("/api/v1/execute", func(c *fiber.Ctx) error {
		var req executeBody
		if err := json.Unmarshal(c.Body(), &req); err != nil || req.Script == "" {
			return c.Status(400).JSON(fiber.Map{"success": false, "error": "bad request", "code": "AVAP_BAD_REQUEST"})
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(baselineEnvelope)
	})
	app.Post("/api/v1/execute/batch", func(c *fiber.Ctx) error {
		var req struct {
			Items []executeBody `json:"items"`
		}
		if err := json.Unmarshal(c.Body(), &req); err != nil || len(req.Items) == 0 {
			return c.Status(400).JSON(fiber.Map{"success": false, "error": "bad request", "code": "AVAP_BAD_REQUEST"})
		}
		out := make([]byte, 0, 16+len(req.Items)*(len(baselineEnvelope)+1))
		out = append(out, `{"success":true,"items":[`...)
		for i := range req.Items {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, baselineEnvelope...)
		}
		out = append(out, "]}"...)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(out)
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		_ = app.Shutdown()
	}()
	return app.Listen(addr)
}
