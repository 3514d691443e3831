package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"flashgate/cache"
	"flashgate/rules"
)

// cacheStage is a route's response cache: the process-lifetime
// cache.Cache (Env) with the policy compiled from the route's `cache:`
// node. It is immutable; a reload compiles a new one around the same
// Cache, so entries survive reloads.
type cacheStage struct {
	c      *cache.Cache
	policy *cache.Policy
	// esi is the route's ESI stage, nil when the route never assembles.
	// With it, stored answers that are templates are left to the ESI stage
	// (headers written, body not), and the others are written at once.
	esi *esiStage
	// keyAsSent[trusted] is policy.ReadsOnlyAsSent for a request from an
	// untrusted (0) or trusted (1) peer whose Connection header names no
	// other header: then the answer depends on nothing else, so it is
	// found once here instead of on every hit (plainForwarding).
	keyAsSent [2]bool
}

var _ Cache = (*cacheStage)(nil)

// Serve answers x from the cache or through one coalesced fetch. Errors
// are cache.ErrRequestBody, cache.ErrCoalesceTimeout or the fetch's
// (wrapped), mapped to a status by stageAnswer.
func (st *cacheStage) Serve(x *Exchange, fetch FetchFunc) error {
	ctx := x.Ctx
	if st.esi == nil {
		res, err := st.c.ServeOutbound(ctx, &x.out, st.policy, &x.Params, cache.Fetch(fetch))
		x.personal = res.Personal
		return err
	}
	res, err := st.c.Do(&x.out, &ctx.Response, st.policy, &x.Params, cache.Fetch(fetch))
	x.personal = res.Personal
	if err != nil {
		return err
	}
	st.answerESI(x, res)
	return nil
}

// ServeFresh answers x from a fresh entry without building the origin
// request (cache.PeekInbound, keyed on what the origin would be sent:
// host, x.Path and the client's query and headers, which x.SentAsIs vouches
// for). It returns false, having written nothing, when x must take the
// full path: a miss, a stale entry, or a key that reads a header the
// forwarding rules change.
func (st *cacheStage) ServeFresh(x *Exchange, host []byte) bool {
	ctx := x.Ctx
	in := cache.Inbound{Req: &ctx.Request, Host: host, Path: x.Path, Forwarded: x, Scratch: &x.key}
	if x.plainConnection() {
		in.KeySentAsIs = st.keyAsSent[b2i(x.peerTrusted)]
	}
	res, ok := st.c.PeekInbound(&in, st.policy, x.Now)
	if !ok {
		return false
	}
	if st.esi == nil {
		res.Write(&ctx.Request, &ctx.Response)
		return true
	}
	st.answerESI(x, res)
	return true
}

// answerESI writes a cache answer on a route that assembles ESI: a stored
// template gets its headers only, its body being left to the ESI stage;
// anything else is written as a plain cache answer.
func (st *cacheStage) answerESI(x *Exchange, res cache.Result) {
	resp := &x.Ctx.Response
	x.esi.fromCache, x.esi.surrogate = true, res.ESI
	if e := res.Entry; e != nil && st.esi.assembles(e) {
		res.WriteHeader(resp)
		x.esi.entry = e
		return
	}
	// Not a template for this route (or a pass-through, whose answer is
	// already in the response): written as a plain cache answer.
	res.Write(&x.Ctx.Request, resp)
	x.esi.done = res.Entry != nil
}

// ansCacheBody answers a GET or HEAD with a body on a caching route: the
// key ignores bodies, so one could change the origin's answer for
// everyone (cache.ErrRequestBody).
var ansCacheBody = newAnswer(400, "body_not_allowed", "Bad request",
	"A GET or HEAD request must not carry a body at this address.", "")

// stageAnswer is the client-facing answer for an error of the cache stage
// or of the origin call: the cache's own errors first, then the origin
// error classes (502/503/504).
func stageAnswer(err error) *answer {
	switch {
	case errors.Is(err, cache.ErrRequestBody):
		return ansCacheBody
	case errors.Is(err, cache.ErrCoalesceTimeout):
		return ansOriginTimeout
	}
	return originAnswer(err)
}

// responseCache holds the Env's one cache.Cache. It is created by the
// first Compile with a non-passive Env, with the options of that
// configuration's top-level `cache:` node; later changes of those options
// (max_bytes, max_object, hit_for_miss) apply at the next restart, since
// resizing would drop every entry. Safe for concurrent use.
type responseCache struct {
	mu      sync.Mutex
	c       *cache.Cache
	opts    cache.Options // as decoded, before defaults: compared on reload
	onStore func(*cache.Entry)
	now     func() time.Time
	bg      func(func())
}

// cacheFor returns the Env's cache, creating it on first use with the
// options decoded from n. A passive Env (flashgate -check) only validates
// n and returns nil.
func (e *Env) cacheFor(n rules.Node, s *Snapshot) (*cache.Cache, error) {
	o, err := cache.DecodeOptions(n)
	if err != nil {
		return nil, err
	}
	s.personal = o.Personal // unlike the sizes, applies at every reload
	if e.passive {
		return nil, nil
	}
	rc := &e.rc
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.c != nil {
		if o.MaxBytes != rc.opts.MaxBytes || o.MaxObject != rc.opts.MaxObject || o.HitForMiss != rc.opts.HitForMiss {
			e.log.LogAttrs(context.Background(), slog.LevelWarn,
				"cache.max_bytes, cache.max_object and cache.hit_for_miss changed: they take effect only at the next restart")
		}
		return rc.c, nil
	}
	rc.opts = o
	o.Now, o.Background, o.Logger, o.OnStore = rc.now, rc.bg, e.log, attachMeta
	c, err := cache.New(o)
	if err != nil {
		return nil, posErr(n.Pos(), "cache", "%v", err)
	}
	rc.c = c
	return c, nil
}

// Cache returns the process-lifetime response cache, or nil before the
// first Compile (and for a passive Env).
func (e *Env) Cache() *cache.Cache {
	e.rc.mu.Lock()
	defer e.rc.mu.Unlock()
	return e.rc.c
}

// PurgeTag purges every cached entry carrying tag (e.g. "item:42"), softly
// (marked stale: stale_while_revalidate keeps shielding the origin while
// they refresh) or not, and returns how many entries it touched. It is the
// plain function the stock gate calls when an item sells out. Safe for
// concurrent use; a no-op before the cache exists.
func (e *Env) PurgeTag(tag string, soft bool) int {
	c := e.Cache()
	if c == nil {
		return 0
	}
	p := cache.Purge{Kind: cache.PurgeTag, Tag: tag, Soft: soft}
	e.broadcastPurge(p)
	return c.Purge(p)
}

// closeCache stops the cache's goroutines; the Env is closing.
func (e *Env) closeCache() {
	e.rc.mu.Lock()
	defer e.rc.mu.Unlock()
	if e.rc.c != nil {
		e.rc.c.Close()
		e.rc.c = nil
	}
}

// writeCacheMetrics writes the cache's metrics (flashgate_cache_*).
func (e *Env) writeCacheMetrics(w io.Writer) {
	if c := e.Cache(); c != nil {
		c.Metrics().WritePrometheus(w)
	}
}

// Purge applies p to the response cache and returns how many entries it
// touched (prefix and all purges are lazy and return 0). The admin API
// calls this; see cache.Purge for the kinds.
func (s *Server) Purge(p cache.Purge) int {
	c := s.env.Cache()
	if c == nil {
		return 0
	}
	s.env.broadcastPurge(p)
	return c.Purge(p)
}

// PurgeTag is Env.PurgeTag on the server's Env.
func (s *Server) PurgeTag(tag string, soft bool) int { return s.env.PurgeTag(tag, soft) }

// compileCache compiles a route's `cache:` node into its cache stage, or
// nil when the route does not cache. c is nil under a passive Env: the
// policy is still compiled, so -check reports its errors.
func compileCache(r *rules.Route, c *cache.Cache, esi *esiStage) (*cacheStage, error) {
	p, err := cache.DecodePolicy(r.Cache)
	if err != nil || p == nil {
		return nil, err
	}
	return newCacheStage(c, p, esi), nil
}

func newCacheStage(c *cache.Cache, p *cache.Policy, esi *esiStage) *cacheStage {
	st := &cacheStage{c: c, policy: p, esi: esi}
	for trusted := range st.keyAsSent {
		st.keyAsSent[trusted] = p.ReadsOnlyAsSent(plainForwarding{trusted: trusted == 1})
	}
	return st
}

// plainForwarding is cache.HeaderForwarding for a request whose
// Connection header names no other header, from a peer trusted or not:
// Exchange.SentAsIs for every such request.
type plainForwarding struct {
	trusted  bool
	identity identityHeaders // the route's: never sent as is
}

func (f plainForwarding) SentAsIs(name string) bool {
	return !f.identity.hasName(name) && sentAsIs(name, nil, f.trusted)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
