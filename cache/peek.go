package cache

import "github.com/valyala/fasthttp"

// Peek answers req from memory when, and only when, Do would answer it
// with a fresh hit: it returns the entry (State Hit) and true. Anything
// else returns false and has no effect: no origin fetch, no coalescing
// (no flight is joined or led, so no other request waits on the caller),
// no background revalidation, no hit-for-miss marker. That includes a
// stale entry (within stale_while_revalidate or stale_if_error), a missing
// or purged one, a remembered uncacheable key, a request Do would pass
// through (method, body, personal credentials the key does not separate)
// and a nil p. The caller then decides how to run Do, typically on
// another goroutine with its own deadline; that Do counts the request.
//
// A hit counts as one in the cache's metrics, like Do's. Peek never
// modifies req, allocates nothing and is safe for concurrent use. It is
// the ESI fast path: a fragment is stitched in on the page's goroutine
// only when it is ready, and never makes the page wait for an origin.
func (c *Cache) Peek(req *fasthttp.Request, p *Policy) (Result, bool) {
	if p == nil || !cacheableMethod(req) || hasBody(req) || personal(req, p) {
		return Result{}, false
	}
	now := c.nowNanos()
	s := getScratch()
	defer putScratch(s)
	buildKey(s, req, p)
	e, _ := c.lookup(s, req, now)
	if e == nil || e.kind != kindObject || e.freshness(now) != fresh {
		return Result{}, false
	}
	c.m.byState[Hit].Inc()
	return entryResult(Hit, e, now), true
}
