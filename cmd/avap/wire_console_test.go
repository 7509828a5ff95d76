package main

import (
	"context"
	"testing"
)

func TestConsoleConfig(t *testing.T) {
	c := defaultConfig()
	if !c.Console.Enabled || c.Console.Path != "/" || len(c.validateConsole()) != 0 || len(consoleRoutes(c)) != 1 {
		t.Fatalf("defaults: %+v", c.Console)
	}
	for _, bad := range []string{"console", "/api/v1/ui", "/a/../b", "/x"} {
		c.Console.Path = bad
		if ps := c.validateConsole(); len(ps) != 1 || ps[0].key != "console.path" {
			t.Errorf("path %q: %v", bad, ps)
		}
	}
	c.Console.Enabled = false
	if len(c.validateConsole()) != 0 || consoleRoutes(c) != nil {
		t.Error("a disabled console is validated or mounted")
	}
	info := infoWithLimits(c, func(context.Context) map[string]any { return map[string]any{"mesh": 1} })(context.Background())
	lim, _ := info["limits"].(map[string]any)
	mx, _ := lim["max"].(map[string]int64)
	if info["mesh"] != 1 || mx["timeout_ms"] != c.Executor.MaxLimits.Timeout.Milliseconds() || mx["max_steps"] != c.Executor.MaxLimits.Steps {
		t.Errorf("info limits: %v", info)
	}
}
