package cache

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// fill runs or joins the one origin fetch for key hash h. old is an entry
// past freshness that may stand in if the origin fails (nil if none).
func (c *Cache) fill(s *scratch, h uint64, req *fasthttp.Request, resp *fasthttp.Response,
	p *Policy, params Params, fetch Fetch, old *Entry, now int64) (Result, error) {
	cl, leader := c.flights.join(h)
	if !leader {
		return c.awaitLeader(cl, s, req, resp, p, fetch, old, now)
	}
	defer c.flights.finish(h, cl)
	state := Miss
	if old != nil {
		state = Expired
	}
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	originRequest(out, req, p, old)
	err := fetch(out, resp)
	if err != nil || resp.StatusCode() >= 500 {
		c.m.originErrors.Inc()
		if old != nil && old.usableOnError(now) {
			c.m.staleOnError.Inc()
			c.m.byState[Stale].Inc()
			cl.entry, cl.state = old, Stale
			return entryResult(Stale, old, now), nil
		}
		if err != nil {
			cl.err = fmt.Errorf("cache: origin fetch failed, no stale copy to serve: %w", err)
			return Result{State: state, now: now}, cl.err
		}
	}
	c.m.byState[state].Inc()
	if resp.StatusCode() == fasthttp.StatusNotModified && old != nil {
		e := c.refreshed(old, resp, p, now)
		cl.entry, cl.state = e, state
		return entryResult(state, e, now), nil
	}
	e := c.admit(s, h, req, resp, p, ruleTags(c, p, params), now)
	if e == nil {
		cl.entry, cl.state = c.shareableFailure(s, resp, p, now), state
		esi := c.consumeSurrogate(resp)
		if req.Header.IsHead() {
			resp.SkipBody = true
		}
		return Result{State: state, now: now, ESI: esi}, nil
	}
	cl.entry, cl.state = e, state
	return entryResult(state, e, now), nil
}

// shareableFailure returns an unstored copy of a 5xx answer for the
// coalesced waiters, so that a failing origin gets one request per key
// instead of one per waiter; nil if the answer looks personal.
func (c *Cache) shareableFailure(s *scratch, resp *fasthttp.Response, p *Policy, now int64) *Entry {
	if resp.StatusCode() < 500 || len(resp.Header.Peek("Set-Cookie")) > 0 {
		return nil
	}
	d := parseDirectives(&resp.Header, c.surrogate)
	if d.private || d.noStore || len(resp.Header.Peek("Vary")) > 0 {
		return nil
	}
	e, r := c.buildEntry(p, s.key, s.url, resp, d, lifetimes{}, now, nil)
	if r != storable {
		return nil
	}
	return e
}

// awaitLeader waits for the leader's fetch and shares its entry when it is
// the one this request would get; otherwise it fetches for itself.
func (c *Cache) awaitLeader(cl *call, s *scratch, req *fasthttp.Request, resp *fasthttp.Response,
	p *Policy, fetch Fetch, old *Entry, now int64) (Result, error) {
	c.m.coalesced.Inc()
	if !cl.wait(p.coalesce) {
		if old != nil && old.usableOnError(now) {
			c.m.byState[Stale].Inc()
			return entryResult(Stale, old, now), nil
		}
		return Result{State: Miss, now: now}, ErrCoalesceTimeout
	}
	switch {
	case cl.err != nil:
		return Result{State: Miss, now: now}, cl.err
	case cl.entry == nil:
		return c.pass(req, resp, fetch, now)
	}
	e := cl.entry
	key := s.key
	if len(e.varyNames) > 0 && cl.state != Stale {
		key = appendVaryValues(s.key[:s.primary], &req.Header, e.varyNames)
		s.key = key
	}
	if !bytes.Equal(e.key, key) {
		return c.pass(req, resp, fetch, now) // another variant: not ours to share
	}
	c.m.byState[cl.state].Inc()
	return entryResult(cl.state, e, now), nil
}

// originRequest prepares the request a miss sends under policy p: a copy
// of req as GET, with only the query parameters the key holds
// (setOriginQuery), without the client's validators (a 304 must never
// become the stored object) and without Accept-Encoding (the cache
// compresses itself); with old's validators when revalidating.
func originRequest(out, req *fasthttp.Request, p *Policy, old *Entry) {
	req.CopyTo(out)
	out.Header.SetMethod(fasthttp.MethodGet)
	setOriginQuery(out, req, p)
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match",
		"If-Unmodified-Since", "If-Range", "Accept-Encoding", "Range"} {
		delRequestHeader(&out.Header, h) // the proxy's request keeps the client's spelling
	}
	if old == nil {
		return
	}
	if len(old.originETag) > 0 {
		out.Header.SetBytesV("If-None-Match", old.originETag)
	}
	if len(old.lastMod) > 0 {
		out.Header.SetBytesV("If-Modified-Since", old.lastMod)
	}
}

// admit stores resp if policy and headers allow, returning the entry, or
// nil after remembering the key as hit-for-miss.
func (c *Cache) admit(s *scratch, h uint64, req *fasthttp.Request, resp *fasthttp.Response,
	p *Policy, rtags []uint64, now int64) *Entry {
	d := parseDirectives(&resp.Header, c.surrogate)
	lt := lifetimesFor(p, d, resp.StatusCode(), responseDate(resp, now), now)
	if r := c.checkResponse(p, resp, d, lt); r != storable {
		if r.remembered(resp.StatusCode()) {
			c.rememberUncacheable(s.key, h, now)
		} else if resp.StatusCode() < 500 {
			c.m.refused.Inc() // a failing origin is not "uncacheable"
		}
		return nil
	}
	vary := varyNames(resp.Header.Peek("Vary"))
	primary := s.key[:s.primary]
	key := primary
	if len(vary) > 0 {
		key = appendVaryValues(slices.Clone(primary), &req.Header, vary)
	}
	e, r := c.buildEntry(p, key, s.url, resp, d, lt, now, rtags)
	if r != storable {
		c.rememberUncacheable(s.key, h, now)
		return nil
	}
	e.varyNames = vary
	if c.onStore != nil {
		c.onStore(e)
	}
	if len(vary) > 0 {
		c.put(&Entry{kind: kindVary, key: slices.Clone(primary), hash: c.hash(primary), varyNames: vary,
			insertedAt: now, lt: lt, size: entryOverhead + int64(len(primary))}, now)
	}
	c.put(e, now)
	return e
}

// put offers e to the store; a refusal is normal (TinyLFU, full buffers).
func (c *Cache) put(e *Entry, now int64) {
	if e.hash == 0 {
		e.hash = c.hash(e.key)
	}
	e.insertedAt = now
	if e.kind == kindObject {
		if !c.tags.add(e) {
			return
		}
	}
	phys := e.lt.physical()
	c.bans.noteLifetime(phys)
	if c.store.set(e, phys) {
		c.m.stored.Inc()
		if e.kind == kindObject {
			c.objects.Add(1)
		}
	} else if e.kind == kindObject {
		c.tags.remove(e)
	}
}

// rememberUncacheable stores a hit-for-miss marker so that requests for key
// skip the coalescing queue (and its wait) for Options.HitForMiss.
func (c *Cache) rememberUncacheable(key []byte, h uint64, now int64) {
	c.m.refused.Inc()
	if c.hfm <= 0 {
		return
	}
	m := &Entry{kind: kindHitForMiss, key: slices.Clone(key), hash: h, lt: lifetimes{ttl: c.hfm}}
	m.size = entryOverhead + int64(len(m.key))
	m.freshUntil.Store(now + c.hfm)
	c.put(m, now)
}

// varyNames returns the request headers an origin's Vary names, lowercased
// and sorted, without Accept-Encoding (the cache negotiates encodings).
func varyNames(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
	var out []string
	for _, f := range strings.Split(string(v), ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f != "" && f != "accept-encoding" {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// responseDate is the origin's Date in unix nanos, or now.
func responseDate(resp *fasthttp.Response, now int64) int64 {
	if t, err := fasthttp.ParseHTTPDate(resp.Header.Peek("Date")); err == nil {
		return t.UnixNano()
	}
	return now
}
