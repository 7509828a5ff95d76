// Package edge is the HTTP front door of an avap node, built on Fiber v2.
//
// A [Server] is created by cmd/avap with everything it depends on (a
// *nats.Conn, a logger, build information, health checks) in [Options]; it
// installs no signal handlers and opens no listener before [Server.Start].
//
// Every request passes the same middleware chain, in this order:
//
//	request id -> access log -> security headers -> body limit -> routes
//
// (auth and rate limiting slot in after the body limit in later issues).
// Handlers find the request id with [RequestID] and a logger carrying it
// with [Logger], so every log line of a request names its id.
//
// Routes of this file set: GET /healthz (liveness), /readyz (readiness),
// /health and /api/v1/health (component health, 200 or 503), /api/v1/info.
// The execution API is mounted by mountExecute in execute*.go files.
//
// Errors leave as the JSON error envelope
// {"success": false, "error": "...", "code": "AVAP_...", "request_id": "..."}.
package edge
