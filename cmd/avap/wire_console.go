package main

import (
	"context"
	"maps"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/edge/console"
)

// ConsoleConfig configures the web console the edge serves (edge/console).
type ConsoleConfig struct {
	Enabled bool   `koanf:"enabled" help:"serve the web console (playground and mesh view) on the edge"`
	Path    string `koanf:"path" help:"URL path of the web console; its assets are under <path>assets/"`
}

func defaultConsoleConfig() ConsoleConfig {
	return ConsoleConfig{Enabled: true, Path: console.DefaultPath}
}

// validateConsole checks console.*.
func (c *Config) validateConsole() []problem {
	if !c.Console.Enabled {
		return nil
	}
	if _, err := console.NormalizePath(c.Console.Path); err != nil {
		return []problem{{"console.path", err.Error()}}
	}
	return nil
}

// consoleRoutes returns the edge route mounts for the console, or none
// when it is disabled.
func consoleRoutes(cfg *Config) []func(r fiber.Router) {
	if !cfg.Console.Enabled {
		return nil
	}
	opts := console.Options{Path: cfg.Console.Path}
	return []func(r fiber.Router){func(r fiber.Router) {
		_ = console.Mount(r, opts) // the path was validated with the config
	}}
}

// infoWithLimits adds the executors' default and maximum limits (as the
// execute request's "limits" member names them) to /api/v1/info, for
// clients such as the console's limit picker.
func infoWithLimits(cfg *Config, next func(ctx context.Context) map[string]any) func(ctx context.Context) map[string]any {
	lim := func(l LimitsConfig) map[string]int64 {
		return map[string]int64{
			"max_steps":        l.Steps,
			"timeout_ms":       l.Timeout.Milliseconds(),
			"max_memory_bytes": int64(l.Memory),
			"max_call_depth":   int64(l.Depth),
			"max_output_bytes": int64(l.Output),
		}
	}
	limits := map[string]any{"default": lim(cfg.Executor.Limits), "max": lim(cfg.Executor.MaxLimits)}
	return func(ctx context.Context) map[string]any {
		out := map[string]any{"limits": limits}
		if next != nil {
			maps.Copy(out, next(ctx))
		}
		return out
	}
}
