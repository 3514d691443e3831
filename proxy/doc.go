// Package proxy is flashgate's public listener: it compiles rules into an
// immutable Snapshot (route table, per-route settings, the origin pools of
// package origin), swaps it atomically on reload, and runs each request
// through one straight-line pipeline (pipeline.go): normalise the path,
// gateway endpoints (/_flashgate/*), route match, admission filters, response
// cache around the origin call, ESI assembly, observation of the answer.
//
// State that must outlive a reload (origin pools with their connections
// and health) lives in an Env, keyed by stable names and a fingerprint of
// the settings that give it meaning. Forwarding rules (hop-by-hop headers,
// X-Forwarded-*, Via, request ids, client IP) are all in forward.go.
//
// Origin protection (docs/protection.md) wraps the origin call: hot keys
// are observed and isolated after the route matches (hot_stage.go, their
// section in hot_config.go), Plan B switches live in the Env and are read
// per request (switches.go), a route's priority, bulkhead and fallback
// are compiled with it (protect_env.go, fallback.go), the origin's limit
// and breakers are in package origin, and /_flashgate/health reports them
// (health.go).
package proxy
