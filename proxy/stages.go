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
	// Observe is called exactly once for every request Admit let through
	// with x.Observe set, whatever happened next: after the response (from
	// the origin, the cache or ESI, or the gateway's own 502/503/504 when
	// the origin failed) is in x.Ctx.Response and before it is written to
	// the client, so reservations are always released. It must not change
	// the response's status or body.
	Observe(x *Exchange)
}

// Cache is a route's response cache (package cache), wrapped around the
// origin call.
type Cache interface {
	// Serve writes a response for x into x.Ctx.Response: a stored one if
	// fresh (or a 304), else one fetched from the origin with fetch, called
	// at most once per key among concurrent requests (coalescing). The
	// request to key on and to send is x.Outbound() (forwarding rules
	// applied, normalised path, Host as the origin will see it); the cache
	// may pass fetch a copy with its own validators instead of the client's.
	// fetch depends only on its arguments, so it may also be called after
	// the request ended (background revalidation) with a request the cache
	// owns. An error from fetch that the cache cannot cover with a stale
	// copy is returned unchanged, so the pipeline answers it with the usual
	// 502/503/504 page.
	Serve(x *Exchange, fetch FetchFunc) error
	// ServeFresh writes a fresh stored answer for x, or returns false
	// having written nothing. It runs before x.Outbound() is built (host
	// is the Host the origin would be sent) and answers only what Serve
	// would answer from the same entry.
	ServeFresh(x *Exchange, host []byte) bool
}

// FetchFunc sends req to an origin pool and stores the answer, with
// hop-by-hop headers stripped and Via added, in resp. It has the shape of
// cache.Fetch. See Route.Fetch.
type FetchFunc = func(req *fasthttp.Request, resp *fasthttp.Response) error

// Assembler is a route's ESI stage (package esi behind a proxy adapter).
type Assembler interface {
	// Assemble rewrites x.Ctx.Response in place when it is an ESI
	// template (fetching fragments only from configured origins). It runs
	// after the origin or cache answered successfully and before Observe.
	// An error leaves a complete, valid response (e.g. fragments replaced
	// by their fallbacks); it is counted and logged by the pipeline.
	Assemble(x *Exchange) error
}
