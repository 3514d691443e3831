package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/esi"
	"flashgate/route"
	"flashgate/rules"
)

// fragmentRouter routes ESI fragments through a snapshot: its route table
// (normalised path, as for client requests), each fragment route's cache
// policy and origin. One per snapshot.
type fragmentRouter struct {
	snap  *Snapshot
	hosts map[string]bool // lowercased origins[].hosts: absolute src allowed
}

func newFragmentRouter(s *Snapshot, origins []*rules.Origin) *fragmentRouter {
	fr := &fragmentRouter{snap: s, hosts: map[string]bool{}}
	for _, o := range origins {
		for _, h := range o.Hosts {
			fr.hosts[strings.ToLower(h)] = true
		}
	}
	return fr
}

// hostAllowed is esi.Config.HostAllowed: an absolute src is fetched only
// when its host (any port: the fragment is sent to the matched route's
// origin pool, never to the address in the URL) is a configured origin
// host. Everything else (169.254.169.254, internal names) is refused.
func (fr *fragmentRouter) hostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return fr.hosts[host]
}

var (
	viaBytes          = []byte(viaToken)
	hdrViaBytes       = []byte(hdrVia)
	hdrRequestIDBytes = []byte(hdrRequestID)
	methodGET         = []byte(fasthttp.MethodGet)
)

// errNoRoute: a fragment URL that no route (and no unmatched origin) serves.
var errNoRoute = errors.New("esi fragment: no route matches")

// Fragments for URLs the gateway refuses before any fetch; shared and
// immutable. The assembler treats their status as an include failure.
var (
	fragNotFound = &esi.Fragment{Status: fasthttp.StatusNotFound}   // no route
	fragBadPath  = &esi.Fragment{Status: fasthttp.StatusBadRequest} // path route.Normalize refuses
)

func refusedFragment(err error) *esi.Fragment {
	if errors.Is(err, errNoRoute) {
		return fragNotFound
	}
	return fragBadPath
}

// errNotNow is the probe's answer for a fragment that is not ready.
var errNotNow = errors.New("esi fragment: not ready")

// fragScratch is one fragment sub-request: outbound request, response,
// path and parameters. Pooled; the response (and the fragment pointing
// into it) must stay alive until the assembly that used it ends.
type fragScratch struct {
	req    fasthttp.Request
	resp   fasthttp.Response
	path   []byte
	params route.Params
	frag   esi.Fragment
}

var fragScratchPool = sync.Pool{New: func() any { return new(fragScratch) }}

func releaseFragScratch(sc *fragScratch) {
	sc.req.Reset()
	sc.resp.Reset()
	sc.path = sc.path[:0]
	sc.params.Reset()
	sc.frag = esi.Fragment{}
	fragScratchPool.Put(sc)
}

// fragmentFetcher is the esi.Fetcher of one ESI route: each fragment goes
// through route matching, the fragment route's cache policy (cache.Do) or
// its origin, with the cookies and headers the page route forwards.
type fragmentFetcher struct{ st *esiStage }

// FetchNow serves a fragment on the page's goroutine only when it is
// ready: a cache entry fresh or stale within stale_while_revalidate
// (cache.PeekServe, which never fetches or waits on the request: a stale
// entry's one refresh runs in the background) or a URL refused before any
// fetch. Everything else (a miss, an entry past stale_while_revalidate, a
// per-user fragment the cache passes through, a route without a cache) is
// left to Fetch, which the assembler runs on its workers, in parallel and
// each within esi.fragment_timeout: the page never queues behind one
// origin fetch after another.
func (f *fragmentFetcher) FetchNow(req *esi.FragmentRequest) (*esi.Fragment, bool) {
	v, _ := req.Vars.(*reqVars)
	if fr := v.recall(req); fr != nil {
		return fr, true
	}
	sc := fragScratchPool.Get().(*fragScratch)
	rt, err := f.st.fr.route(req, sc)
	if err != nil {
		releaseFragScratch(sc)
		return refusedFragment(err), true // known now: no need to wait
	}
	fr, keep := f.peek(rt, v, sc)
	switch {
	case fr == nil:
		releaseFragScratch(sc)
		if v != nil {
			v.missed = true
		}
		return nil, false
	case !keep:
		releaseFragScratch(sc)
	case v == nil || !v.hold(sc):
		return nil, false // the page ended; cannot happen on the renderer's own goroutine
	}
	if v != nil {
		v.remember(req, fr)
	}
	return fr, true
}

// peek returns the fragment of a caching route when the cache can serve
// it for this request without a fetch on this goroutine (fresh, or stale
// within stale_while_revalidate with its refresh started), nil otherwise.
// keep reports that it points into sc.
func (f *fragmentFetcher) peek(rt *Route, v *reqVars, sc *fragScratch) (*esi.Fragment, bool) {
	cs, _ := routeCache(rt)
	if cs == nil {
		return nil, false
	}
	forwarded := f.st.forward(&sc.req, v)
	res, ok := cs.c.PeekServe(&sc.req, cs.policy, &sc.params, cache.Fetch(rt.fetch))
	if !ok {
		return nil, false
	}
	fr, keep := f.st.storedFragment(rt, res.Entry, sc, forwarded)
	if res.State == cache.Stale {
		return staleFragment(fr, sc), true
	}
	return fr, keep
}

// staleFragment is fr served past its freshness: the same body, with no
// downstream lifetime left (MaxAge 0), so the assembled page gets
// max-age=0 and s-maxage=0 rather than the shell's lifetime: a CDN
// revalidates it at once and picks up the refreshed fragment, and the page
// stays shareable (not private). The copy lives in sc, since fr may be the
// entry's shared fragment.
func staleFragment(fr *esi.Fragment, sc *fragScratch) *esi.Fragment {
	if fr != &sc.frag {
		sc.frag = *fr
	}
	sc.frag.MaxAge = 0
	return &sc.frag
}

// Fetch runs the fragment's route on a worker goroutine and returns by
// ctx's deadline (esi.fragment_timeout, capped by the page's) at the latest.
func (f *fragmentFetcher) Fetch(ctx context.Context, req *esi.FragmentRequest) (*esi.Fragment, error) {
	v, _ := req.Vars.(*reqVars)
	sc := fragScratchPool.Get().(*fragScratch)
	rt, err := f.st.fr.route(req, sc)
	if err != nil {
		releaseFragScratch(sc)
		return refusedFragment(err), nil
	}
	if cs, _ := routeCache(rt); cs != nil {
		return f.fetchCached(ctx, rt, cs, v, sc)
	}
	fr := f.fetchOrigin(ctx, rt, v, sc)
	if v == nil || !v.hold(sc) || ctx.Err() != nil {
		// The page gave up on this fragment; nobody will read it.
		return nil, context.Cause(ctx)
	}
	return fr, nil
}

// fetchCached runs the cache's Do for a fragment of a caching route on a
// goroutine of its own and waits for it until ctx ends. The fill itself
// keeps the route's timeout: a fragment that missed its page still lands
// in the cache for the next one (and for the requests coalesced on it),
// which is what stops a slow fragment from failing every page in turn.
// The goroutine owns sc from here on; it lives at most the route's
// timeout (or coalesce_timeout when it waits on another request's fetch).
func (f *fragmentFetcher) fetchCached(ctx context.Context, rt *Route, cs *cacheStage, v *reqVars, sc *fragScratch) (*esi.Fragment, error) {
	forwarded := f.st.forward(&sc.req, v) // reads the page request: before the handoff
	done := make(chan *esi.Fragment, 1)   // buffered: the goroutine never blocks on a gone worker
	go func() {
		fr, keep := f.st.cachedFragment(rt, cs, sc, forwarded)
		switch {
		case !keep:
			releaseFragScratch(sc)
		case v == nil:
			releaseFragScratch(sc)
			fr = nil // nothing can hold sc until the page ends
		case !v.hold(sc):
			fr = nil // the page ended: hold released sc
		}
		done <- fr
	}()
	select {
	case fr := <-done:
		return fr, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// probeFetcher is fragmentFetcher that never waits: what FetchNow cannot
// serve fails at once, and the probe's reqVars.missed says to assemble
// again off the request goroutine. Its Fetch touches nothing, so a worker
// still running after the probe returned is harmless.
type probeFetcher struct{ *fragmentFetcher }

func (probeFetcher) Fetch(context.Context, *esi.FragmentRequest) (*esi.Fragment, error) {
	return nil, errNotNow
}

// routeCache returns rt's cache stage, or nil.
func routeCache(rt *Route) (*cacheStage, bool) {
	if rt == nil {
		return nil, false
	}
	cs, ok := rt.Cache.(*cacheStage)
	return cs, ok && cs != nil
}

// route matches the fragment URL and builds its outbound request in sc.
func (fr *fragmentRouter) route(req *esi.FragmentRequest, sc *fragScratch) (*Route, error) {
	path, query, _ := bytes.Cut(req.Path, []byte("?"))
	var err error
	if sc.path, err = route.Normalize(sc.path[:0], path); err != nil {
		return nil, err
	}
	s := fr.snap
	var rt *Route
	if i, res := s.table.Match(req.Host, methodGET, sc.path, &sc.params); res == route.Found {
		rt = s.routes[i]
	} else if rt = s.fallback; rt == nil {
		return nil, errNoRoute
	}
	out := &sc.req
	out.Header.DisableNormalizing()
	out.Header.SetMethod(fasthttp.MethodGet)
	uri := sc.path
	if len(query) > 0 {
		uri = append(append(uri, '?'), query...)
		sc.path = uri[:len(sc.path)]
	}
	out.Header.SetRequestURIBytes(uri)
	host := rt.HostRewrite
	if host == nil {
		host = req.Host
	}
	out.Header.SetHostBytes(host)
	out.UseHostHeader = true
	return rt, nil
}

// forward copies onto out the cookies and headers the page route forwards
// to fragments (forward_cookies, forward_headers), plus the request id. It
// reports whether any user-specific value was sent.
func (st *esiStage) forward(out *fasthttp.Request, v *reqVars) bool {
	if v == nil || v.req == nil {
		return false
	}
	in := &v.req.Header
	out.Header.SetCanonical(hdrViaBytes, viaBytes)
	if len(v.requestID) > 0 {
		out.Header.SetCanonical(hdrRequestIDBytes, v.requestID)
	}
	sent := false
	for _, name := range st.fwdCookies {
		if c := in.Cookie(name); len(c) > 0 {
			out.Header.SetCookieBytesKV([]byte(name), c)
			sent = true
		}
	}
	for _, name := range st.fwdHeaders {
		if val := in.Peek(name); len(val) > 0 {
			out.Header.SetBytesV(name, val)
			sent = true
		}
	}
	return sent
}
