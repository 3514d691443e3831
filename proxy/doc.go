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
package proxy
