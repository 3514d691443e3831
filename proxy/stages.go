package proxy

import "github.com/valyala/fasthttp"

// The three request stages that other packages plug into a compiled Route.
// They are interfaces defined here, by their consumer, so that the proxy
// does not depend on how filters, the cache or ESI are built; each is nil
// on a route that does not use it and the pipeline then skips it with one
// nil check. All are called on the request goroutine with the Exchange of
// the request; none may retain x or its byte slices after returning.

// Admission is a route's admission filter chain (package filters), run
// before the cache so that a rejected request costs neither a cache lookup
// nor an origin call.
type Admission interface {
	// Admit runs the filters in stage order. It returns true to let the
	// request go on. To reject, it writes a prebuilt response (status,
	// headers, body: allocation-free) into x.Ctx.Response and returns
	// false; the pipeline then finishes the request without touching the
	// cache or origin. A filter that wants to see the origin's answer (a
	// stock gate learning "sold out", a purchase limit counting a success)
	// sets x.Observe = true before returning true.
	Admit(x *Exchange) bool
	// Observe is called, only when Admit set x.Observe, after the response
	// (from the origin, cache or ESI) is in x.Ctx.Response and before it is
	// written to the client. It must not change the response.
	Observe(x *Exchange)
}

// Cache is a route's response cache (package cache), wrapped around the
// origin call.
type Cache interface {
	// Serve writes a response for x into x.Ctx.Response: a stored one if
	// fresh (or a 304), else the result of fetch, which it calls at most
	// once per key among concurrent requests (coalescing) and into a
	// Response it owns. fetch already strips hop-by-hop headers and adds
	// Via/X-Request-Id; what the cache strips from the client request
	// before fetching (validators) it does on x.Ctx.Request beforehand or
	// after fetch returns. An error from fetch that the cache cannot cover
	// with a stale copy is returned unchanged, so the pipeline answers it
	// with the usual 502/503/504 page.
	Serve(x *Exchange, fetch FetchFunc) error
}

// FetchFunc sends x's request to the route's origin pool and stores the
// cleaned answer in resp. It is safe to call from another goroutine than
// x's only while x's request is still being served (the outbound request
// aliases the inbound body).
type FetchFunc func(x *Exchange, resp *fasthttp.Response) error

// Assembler is a route's ESI stage (package esi behind a proxy adapter).
type Assembler interface {
	// Assemble rewrites x.Ctx.Response in place when it is an ESI
	// template (fetching fragments only from configured origins). It runs
	// after the origin or cache answered successfully and before Observe.
	// An error leaves a complete, valid response (e.g. fragments replaced
	// by their fallbacks); it is counted and logged by the pipeline.
	Assemble(x *Exchange) error
}
