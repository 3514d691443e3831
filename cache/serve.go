package cache

import (
	"bytes"
	"fmt"

	"github.com/valyala/fasthttp"
)

// Serve answers ctx from the cache under policy p: a fresh or stale entry
// from memory, or one coalesced origin fetch through fetch. It writes the
// answer into ctx.Response (with X-Cache) unless it returns an error, which
// the proxy maps to a status (ErrRequestBody → 400, ErrCoalesceTimeout →
// 504, a fetch error → 502/504). A nil p passes the request through.
// params gives the route's parameters for rule tags (nil if none).
func (c *Cache) Serve(ctx *fasthttp.RequestCtx, p *Policy, params Params, fetch Fetch) (Result, error) {
	return c.ServeOutbound(ctx, &ctx.Request, p, params, fetch)
}

// ServeOutbound is Serve for a proxy that has already built the request it
// sends upstream: out (forwarding rules applied, normalised path, Host as
// the origin sees it) is what the cache keys on and what a miss copies for
// fetch; ctx.Request (the client's) decides 304, HEAD and the encoding;
// the answer goes to ctx.Response. out is not modified.
func (c *Cache) ServeOutbound(ctx *fasthttp.RequestCtx, out *fasthttp.Request, p *Policy, params Params, fetch Fetch) (Result, error) {
	var now int64
	if t := ctx.Time(); !c.clockSet && !t.IsZero() {
		now = t.UnixNano() // free: the server stamped the request already
	} else {
		now = c.nowNanos()
	}
	r, err := c.do(out, &ctx.Response, p, params, fetch, now)
	if err == nil {
		r.Write(&ctx.Request, &ctx.Response)
	}
	return r, err
}

// Do is Serve without a RequestCtx, for sub-requests (ESI fragments) and
// for callers that render the body themselves. It never modifies req. On
// a pass-through or an uncacheable miss, resp holds the origin's answer
// and Result.Entry is nil; otherwise resp is scratch and the answer is
// Result.Entry, rendered by Result.Write or Result.WriteHeader.
func (c *Cache) Do(req *fasthttp.Request, resp *fasthttp.Response, p *Policy, params Params, fetch Fetch) (Result, error) {
	return c.do(req, resp, p, params, fetch, c.nowNanos())
}

func (c *Cache) do(req *fasthttp.Request, resp *fasthttp.Response, p *Policy, params Params, fetch Fetch, now int64) (Result, error) {
	if p == nil || !cacheableMethod(req) {
		return c.pass(req, resp, fetch, now)
	}
	if hasBody(req) {
		return Result{State: Bypass, now: now}, ErrRequestBody
	}
	if personal(&req.Header, p) {
		r, err := c.pass(req, resp, fetch, now)
		r.Personal = true
		return r, err
	}
	s := getScratch()
	defer putScratch(s)
	v := viewOf(req)
	buildKey(s, &v, p)
	e, h := c.lookup(s, &req.Header, nil, now)
	if e != nil && e.kind == kindHitForMiss {
		if now < e.freshUntil.Load() {
			c.m.hitForMiss.Inc()
			return c.pass(req, resp, fetch, now)
		}
		e = nil
	}
	if e != nil {
		switch e.freshness(now) {
		case fresh:
			c.m.byState[Hit].Inc()
			return entryResult(Hit, e, now), nil
		case staleRevalidate:
			c.m.byState[Stale].Inc()
			c.revalidateInBackground(e, req, p, params, fetch)
			return entryResult(Stale, e, now), nil
		case dead:
			e = nil
		}
	}
	return c.fill(s, h, req, resp, p, params, fetch, e, now)
}

// lookup finds the entry for s.key, following a Vary marker to the
// variant by the values of hdr. It returns the hash to coalesce on (that
// of the final key). With f, a marker naming a header f does not pass as
// is ends the lookup with no entry (PeekInbound); nil passes them all.
func (c *Cache) lookup(s *scratch, hdr *fasthttp.RequestHeader, f HeaderForwarding, now int64) (*Entry, uint64) {
	s.primary = len(s.key)
	h := c.hash(s.key)
	e := c.get(h, s.key, now)
	if e != nil && e.kind == kindVary {
		if !allSentAsIs(f, e.varyNames) {
			return nil, h
		}
		s.key = appendVaryValues(s.key, hdr, e.varyNames)
		h = c.hash(s.key)
		e = c.get(h, s.key, now)
	}
	return e, h
}

// get returns the entry for hash h if its key is key and no ban removed it.
func (c *Cache) get(h uint64, key []byte, now int64) *Entry {
	e := c.store.get(h)
	if e == nil || !bytes.Equal(e.key, key) {
		return nil
	}
	if e.kind == kindObject && c.bans.banned(e) {
		c.store.del(h)
		return nil
	}
	return e
}

// pass fetches req as is into resp: the cache is not involved.
func (c *Cache) pass(req *fasthttp.Request, resp *fasthttp.Response, fetch Fetch, now int64) (Result, error) {
	c.m.byState[Bypass].Inc()
	if err := fetch(req, resp); err != nil {
		c.m.originErrors.Inc()
		return Result{State: Bypass, now: now}, fmt.Errorf("cache: origin fetch: %w", err)
	}
	return Result{State: Bypass, now: now, ESI: c.consumeSurrogate(resp)}, nil
}

// consumeSurrogate strips Surrogate-Control from a pass-through answer (it
// is meant for us, not for CDNs or browsers) and reports whether it marked
// the page as an ESI template aimed at us.
func (c *Cache) consumeSurrogate(resp *fasthttp.Response) bool {
	sc := resp.Header.Peek("Surrogate-Control")
	if len(sc) == 0 {
		return false
	}
	esi := false
	forEachDirective(sc, func(k, v, target []byte) {
		if (len(target) == 0 || bytes.EqualFold(target, c.surrogate)) && bytes.EqualFold(k, []byte("content")) {
			esi = esi || bytes.Contains(v, []byte("ESI/1.0"))
		}
	})
	resp.Header.Del("Surrogate-Control")
	return esi
}

func cacheableMethod(req *fasthttp.Request) bool {
	return req.Header.IsGet() || req.Header.IsHead()
}

func hasBody(req *fasthttp.Request) bool {
	// -2 is fasthttp's "no Content-Length, no Transfer-Encoding"; -1 chunked.
	cl := req.Header.ContentLength()
	return cl > 0 || cl == -1 || len(req.Body()) > 0
}

// personal reports whether req carries credentials the key does not
// separate: Authorization, a session cookie, or (with private on) the
// absence of the value personal copies are keyed by.
func personal(h *fasthttp.RequestHeader, p *Policy) bool {
	var auth []byte
	if namesCanonical(h) {
		auth = h.PeekCanonical(keyAuthorization) // no scan of every header in any case
	} else {
		auth = requestHeader(h, hdrAuth)
	}
	if len(auth) > 0 && !p.keyedByHeader(hdrAuth) {
		return true
	}
	for _, name := range p.sessionCookies {
		if len(h.Cookie(name)) > 0 && !p.keyedByCookie(name) {
			return true
		}
	}
	switch {
	case p.privCookie != "":
		return len(h.Cookie(p.privCookie)) == 0
	case p.privHeader != "":
		return len(requestHeader(h, p.privHeader)) == 0
	}
	return false
}
