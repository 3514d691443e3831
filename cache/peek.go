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
// modifies req, allocates nothing and is safe for concurrent use.
func (c *Cache) Peek(req *fasthttp.Request, p *Policy) (Result, bool) {
	e, now := c.peekEntry(req, p)
	if e == nil || e.freshness(now) != fresh {
		return Result{}, false
	}
	c.m.byState[Hit].Inc()
	return entryResult(Hit, e, now), true
}

// PeekServe is Peek that also serves what Do serves without an origin
// round trip on the request: a fresh entry (State Hit) and an entry stale
// within stale_while_revalidate (State Stale). For the stale one it
// starts the background refresh Do starts (revalidateInBackground): one
// conditional request (If-None-Match / If-Modified-Since from the stored
// validators) through fetch, run by Options.Background, never on the
// caller's goroutine, and at most one per entry whether Do or PeekServe
// saw it stale first; params gives the route's parameters for rule tags,
// as for Do. Everything else returns false with no effect, as for Peek:
// a miss, an entry past stale_while_revalidate (even within
// stale_if_error: only a failed fetch may serve that), a request Do would
// pass through, a nil p, and a stale entry when fetch is nil.
//
// It is the ESI fast path: a fragment is stitched in on the page's
// goroutine when it is ready, and a shared fragment turning stale at its
// ttl does not push the page onto the slow, streamed path. The caller
// must treat a Stale result as having no downstream lifetime left.
//
// Hits and stale answers count in the cache's metrics, like Do's. It
// never modifies req and is safe for concurrent use. A fresh hit, a miss
// and a stale hit whose refresh is already running allocate nothing; the
// one call that starts a refresh allocates that refresh's closure and
// pooled request copy (req is copied before PeekServe returns).
func (c *Cache) PeekServe(req *fasthttp.Request, p *Policy, params Params, fetch Fetch) (Result, bool) {
	e, now := c.peekEntry(req, p)
	if e == nil {
		return Result{}, false
	}
	switch e.freshness(now) {
	case fresh:
		c.m.byState[Hit].Inc()
		return entryResult(Hit, e, now), true
	case staleRevalidate:
		if fetch == nil {
			return Result{}, false
		}
		c.m.byState[Stale].Inc()
		c.revalidateInBackground(e, req, p, params, fetch)
		return entryResult(Stale, e, now), true
	}
	return Result{}, false
}

// peekEntry is the lookup Peek and PeekServe share: the stored object for
// req under p (following Vary), or nil when there is none or Do would not
// consult the cache for req. It joins no flight and stores nothing.
func (c *Cache) peekEntry(req *fasthttp.Request, p *Policy) (*Entry, int64) {
	if p == nil || !cacheableMethod(req) || hasBody(req) || personal(&req.Header, p) {
		return nil, 0
	}
	now := c.nowNanos()
	s := getScratch()
	defer putScratch(s)
	v := viewOf(req)
	buildKey(s, &v, p)
	e, _ := c.lookup(s, &req.Header, nil, now)
	if e == nil || e.kind != kindObject {
		return nil, now
	}
	return e, now
}
