package cache

import (
	"context"
	"log/slog"

	"github.com/valyala/fasthttp"
)

// revalidateInBackground refreshes a stale entry once: the first request
// that sees it stale (through Do or PeekServe, which share this refresh
// and its flag) starts a conditional fetch (If-None-Match /
// If-Modified-Since from the stored validators); everyone keeps getting the
// stale entry until the new one is stored. Copies what it needs from req,
// since the fetch outlives the request.
func (c *Cache) revalidateInBackground(e *Entry, req *fasthttp.Request, p *Policy, params Params, fetch Fetch) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	out := fasthttp.AcquireRequest()
	originRequest(out, req, p, e)
	rtags := ruleTags(c, p, params)
	c.bg(func() {
		defer fasthttp.ReleaseRequest(out)
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(resp)
		if !c.revalidate(e, out, resp, p, rtags, fetch) {
			e.refreshing.Store(false) // let a later request try again
		}
	})
}

// revalidate performs one refresh of e; false if the origin failed or
// answered with an error status, which leaves e in place.
func (c *Cache) revalidate(e *Entry, out *fasthttp.Request, resp *fasthttp.Response, p *Policy,
	rtags []uint64, fetch Fetch) bool {
	err := fetch(out, resp)
	now := c.nowNanos()
	switch {
	case err != nil || resp.StatusCode() >= 500:
		c.m.originErrors.Inc()
		if c.log.Enabled(context.Background(), slog.LevelWarn) {
			c.log.LogAttrs(context.Background(), slog.LevelWarn, "cache: background revalidation failed",
				slog.String("url", string(e.url)), slog.Int("status", resp.StatusCode()), slog.Any("err", err))
		}
		return false
	case resp.StatusCode() == fasthttp.StatusNotModified:
		c.refreshed(e, resp, p, now)
		return true
	}
	d := parseDirectives(&resp.Header, c.surrogate)
	lt := lifetimesFor(p, d, resp.StatusCode(), responseDate(resp, now), now)
	r := c.checkResponse(p, resp, d, lt)
	if !replacesEntry(r, resp.StatusCode()) {
		// The refresh copies the request that found the entry stale, which
		// may be an attacker's: a 400 or 431 it earned says nothing about
		// the page. Keep serving stale; a later request tries again.
		c.m.originErrors.Inc()
		return false
	}
	c.m.revalidated.Inc()
	if r != storable || !sameStrings(varyNames(resp.Header.Peek("Vary")), e.varyNames) {
		c.store.del(e.hash) // changed shape: let the next request fetch it afresh
		return true
	}
	n, r := c.buildEntry(p, e.key, e.url, resp, d, lt, now, rtags)
	if r != storable {
		c.store.del(e.hash)
		return true
	}
	n.varyNames = e.varyNames
	n.hash = e.hash
	if c.onStore != nil {
		c.onStore(n)
	}
	c.put(n, now)
	return true
}

// refreshed stores a copy of old made fresh by a 304: same body, headers
// and attachment; new lifetimes (from the 304's headers when the policy
// takes them from the origin).
func (c *Cache) refreshed(old *Entry, resp *fasthttp.Response, p *Policy, now int64) *Entry {
	c.m.revalidated304.Inc()
	d := parseDirectives(&resp.Header, c.surrogate)
	lt := lifetimesFor(p, d, old.status, responseDate(resp, now), now)
	if lt.ttl <= 0 {
		lt = old.lt
	}
	n := &Entry{
		kind: kindObject, hash: old.hash, key: old.key, url: old.url, tags: old.tags, size: old.size,
		varyNames: old.varyNames, status: old.status, contentType: old.contentType, headers: old.headers,
		bodies: old.bodies, etags: old.etags, lastMod: old.lastMod, lastModUnix: old.lastModUnix,
		originETag: old.originETag, esi: old.esi, storedAt: now, lt: lt, attachment: old.attachment,
		wire: old.wire,
	}
	n.freshUntil.Store(now + lt.ttl)
	c.put(n, now)
	return n
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// replacesEntry reports whether a refresh answered with status (refusal r
// under the policy) replaces or drops the stale entry: a cacheable status
// does, including a 404/410 that negative caching stores, and so does a
// cacheable status whose headers now forbid storing (the origin changed its
// mind about the page). Any other status, 4xx in particular, does not.
func replacesEntry(r refusal, status int) bool {
	switch {
	case r == refuseStatus:
		return false
	case r == refuseTTL && (status == fasthttp.StatusNotFound || status == fasthttp.StatusGone):
		return false // negative caching is off: a 404 is not a page
	}
	return true
}
