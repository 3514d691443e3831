// Package origin is flashgate's origin pools: one fasthttp.HostClient per
// server, balancing over the healthy ones, active health checks, and the
// classification of an origin call's errors. It is configured by rules and
// knows nothing of the request pipeline: package proxy holds a Pool per
// configured origin (in its Env, so a reload that leaves an origin
// unchanged keeps its connections and health) and calls Pool.Do.
package origin
