package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

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
	fr, keep := storedFragment(rt, res.Entry, sc, forwarded)
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
		fr, keep := cachedFragment(rt, cs, sc, forwarded)
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

// cachedFragment gets the fragment of a caching route from the cache: a
// hit (a stale one with no downstream lifetime, see staleFragment), or one
// coalesced origin fetch within the route's timeout. keep reports that the
// fragment points into sc.
func cachedFragment(rt *Route, cs *cacheStage, sc *fragScratch, forwarded bool) (*esi.Fragment, bool) {
	res, err := cs.c.Do(&sc.req, &sc.resp, cs.policy, &sc.params, cache.Fetch(rt.fetch))
	switch {
	case err != nil:
		return failedFragment(sc), true
	case res.Entry == nil: // passed through: the origin's answer is in sc.resp
		return responseFragment(sc, fragmentNests(rt), forwarded, res.ESI), true
	}
	fr, keep := storedFragment(rt, res.Entry, sc, forwarded)
	if res.State == cache.Stale { // within stale_while_revalidate, or standing in for a failed fetch
		return staleFragment(fr, sc), true
	}
	return fr, keep
}

// storedFragment is a cache entry as a fragment: the entry's own (shared,
// immutable) fragment, with its template when rt nests ESI; keep reports
// that it points into sc instead (an entry without metadata).
func storedFragment(rt *Route, e *cache.Entry, sc *fragScratch, forwarded bool) (*esi.Fragment, bool) {
	m := metaOf(e)
	switch {
	case m == nil:
		return entryFragment(sc, e, forwarded), true
	case fragmentNests(rt) && m.nested.Template != nil && (e.SurrogateESI() || fragmentMode(rt) == esiOn):
		return &m.nested, false
	}
	return &m.frag, false
}

// fetchOrigin fetches a fragment of a route without a cache from its
// origin, within the route's timeout and ctx's deadline (the fragment
// timeout): the assembler only stops waiting at the page deadline, so the
// fetch itself must end in time.
func (f *fragmentFetcher) fetchOrigin(ctx context.Context, rt *Route, v *reqVars, sc *fragScratch) *esi.Fragment {
	forwarded := f.st.forward(&sc.req, v)
	timeout := rt.Timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	sc.req.Header.SetCanonical(hdrSurrogateCap, surrogateCapVal)
	if timeout <= 0 || rt.Origin.Do(&sc.req, &sc.resp, timeout) != nil {
		return failedFragment(sc)
	}
	cleanResponse(&sc.resp)
	want := esi.WantsESI(sc.resp.Header.PeekBytes(hdrSurrogateCtl), surrogateDevice)
	return responseFragment(sc, fragmentNests(rt), forwarded, want)
}

// failedFragment is a 502 fragment: an include failure (alt, onerror,
// esi:except or a failed page follow the ESI rules).
func failedFragment(sc *fragScratch) *esi.Fragment {
	sc.frag = esi.Fragment{Status: fasthttp.StatusBadGateway}
	return &sc.frag
}

// fragmentNests reports whether rt's answers may themselves be templates.
func fragmentNests(rt *Route) bool { return fragmentMode(rt) != esiOff && fragmentMode(rt) != esiCSI }

func fragmentMode(rt *Route) esiMode {
	if st, ok := rt.ESI.(*esiStage); ok && st != nil {
		return st.mode
	}
	return esiOff
}

// entryFragment is a stored entry without metadata (never attached).
func entryFragment(sc *fragScratch, e *cache.Entry, personal bool) *esi.Fragment {
	sc.frag = esi.Fragment{Status: e.Status(), Body: e.Body(), Personal: personal}
	return &sc.frag
}

// responseFragment turns an origin answer in sc.resp (not stored) into a
// fragment: personal when it says so or was asked with the user's
// cookies or headers, downstream lifetime from its Cache-Control.
func responseFragment(sc *fragScratch, nested, forwarded, wantsESI bool) *esi.Fragment {
	h := &sc.resp.Header
	personal, maxAge := responsePrivacy(h)
	sc.frag = esi.Fragment{Status: sc.resp.StatusCode(), Body: sc.resp.Body(),
		Personal: personal || forwarded, MaxAge: maxAge}
	switch ce := h.ContentEncoding(); {
	case bytes.EqualFold(ce, []byte("gzip")):
		sc.frag.Gzip = true
	case len(ce) > 0:
		sc.frag.Status = fasthttp.StatusBadGateway // a coding we cannot read is no fragment
	}
	if nested && wantsESI && !sc.frag.Gzip {
		if t, err := esi.Parse(sc.resp.Body(), esi.ParseOptions{}); err == nil {
			sc.frag.Template = t
		} else {
			sc.frag.Status = fasthttp.StatusBadGateway // a broken template is never sent raw
		}
	}
	return &sc.frag
}

// responsePrivacy reads a fragment's Set-Cookie, Cache-Control and Vary:
// personal when any marks it per-user; maxAge from s-maxage, else
// max-age, else 0 (not stored by us, so not downstream either).
func responsePrivacy(h *fasthttp.ResponseHeader) (personal bool, maxAge time.Duration) {
	cc := h.PeekBytes(hdrCacheControl)
	vary := h.Peek("Vary")
	personal = len(h.Peek("Set-Cookie")) > 0 || containsFold(cc, "private") || containsFold(cc, "no-store") ||
		containsFold(cc, "no-cache") || containsFold(vary, "cookie") || bytes.Contains(vary, []byte("*"))
	sm, ma := directiveSeconds(cc, "s-maxage"), directiveSeconds(cc, "max-age")
	switch {
	case personal:
	case sm >= 0:
		maxAge = time.Duration(sm) * time.Second
	case ma >= 0:
		maxAge = time.Duration(ma) * time.Second
	}
	return personal, maxAge
}

// directiveSeconds returns the value of a "name=N" Cache-Control
// directive, or -1.
func directiveSeconds(cc []byte, name string) int64 {
	for len(cc) > 0 {
		var d []byte
		if i := bytes.IndexByte(cc, ','); i >= 0 {
			d, cc = cc[:i], cc[i+1:]
		} else {
			d, cc = cc, nil
		}
		k, v, ok := bytes.Cut(bytes.TrimSpace(d), []byte("="))
		if ok && bytes.EqualFold(k, []byte(name)) {
			return parseUint(bytes.Trim(v, `"`))
		}
	}
	return -1
}

func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return true
		}
	}
	return false
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

// entryMeta is what a stored entry carries for ESI (cache Options.OnStore,
// once per fill): its parsed template and the entry as a fragment, so a
// fragment hit is a pointer.
type entryMeta struct {
	tpl    *esi.Template // nil: no ESI markup (or a parse error)
	err    error         // the template's parse error
	frag   esi.Fragment  // the body as a plain fragment
	nested esi.Fragment  // frag with Template set, for nested ESI
}

// attachMeta is cache.Options.OnStore: it parses the body once, whether or
// not a route will assemble it (a page without markup costs two memchr
// scans), and reads its downstream lifetime and privacy.
func attachMeta(e *cache.Entry) {
	m := &entryMeta{}
	m.frag = esi.Fragment{Status: e.Status(), Body: e.Body(), MaxAge: esi.NoMaxAge}
	e.VisitHeaders(func(k, v []byte) {
		if !bytes.EqualFold(k, hdrCacheControl) {
			return
		}
		if containsFold(v, "private") || containsFold(v, "no-store") {
			m.frag.Personal, m.frag.MaxAge = true, 0
			return
		}
		if s := directiveSeconds(v, "s-maxage"); s >= 0 {
			m.frag.MaxAge = time.Duration(s) * time.Second
		} else if s := directiveSeconds(v, "max-age"); s >= 0 {
			m.frag.MaxAge = time.Duration(s) * time.Second
		}
	})
	if t, err := esi.Parse(e.Body(), esi.ParseOptions{}); err != nil {
		if !errors.Is(err, esi.ErrBinary) {
			m.err = err
		}
	} else if t.HasESI() {
		m.tpl = t
	}
	m.nested = m.frag
	m.nested.Template = m.tpl
	e.SetAttachment(m)
}

// metaOf returns the entry's metadata, nil if none was attached.
func metaOf(e *cache.Entry) *entryMeta {
	m, _ := e.Attachment().(*entryMeta)
	return m
}

// reqVars is esi.Vars over the page request, and carries what the
// Fetcher needs from it (cookies and headers to forward, request id) and
// the probe's outcome. Read by workers concurrently: never written after
// assembly starts, except by the request goroutine's FetchNow (missed,
// held) and, for a slow page, under mu.
type reqVars struct {
	req       *fasthttp.Request
	requestID []byte
	missed    bool           // the probe met a fragment it could not serve at once
	held      []*fragScratch // fragments to release when the assembly ends
	// memo holds the fragments FetchNow served, by URL, so that a page
	// assembled again off the request goroutine (slow path) reuses them
	// rather than fetching twice (the cache applies stores asynchronously).
	memo    []memoFrag
	recalls bool // a slow page: FetchNow looks in memo first

	// slow-path only: workers hand back their scratch under mu.
	mu     sync.Mutex
	closed bool
}

func (v *reqVars) Host() []byte              { return v.req.Header.Host() }
func (v *reqVars) Cookie(name string) []byte { return v.req.Header.Cookie(name) }
func (v *reqVars) Query(name string) []byte  { return v.req.URI().QueryArgs().Peek(name) }
func (v *reqVars) RawQuery() []byte          { return v.req.URI().QueryString() }
func (v *reqVars) Header(name string) []byte { return v.req.Header.Peek(name) }

type memoFrag struct {
	url  []byte // host + path
	frag *esi.Fragment
}

// remember records fr as the fragment for req's URL. Called by FetchNow,
// so only on the assembly's rendering goroutine; buffers are reused
// across requests.
func (v *reqVars) remember(req *esi.FragmentRequest, fr *esi.Fragment) {
	if len(v.memo) < cap(v.memo) {
		v.memo = v.memo[:len(v.memo)+1]
	} else {
		v.memo = append(v.memo, memoFrag{})
	}
	m := &v.memo[len(v.memo)-1]
	m.url = append(append(m.url[:0], req.Host...), req.Path...)
	m.frag = fr
}

// recall returns the fragment remembered for req's URL, or nil.
func (v *reqVars) recall(req *esi.FragmentRequest) *esi.Fragment {
	if v == nil || !v.recalls {
		return nil
	}
	for i := range v.memo {
		u := v.memo[i].url
		if len(u) == len(req.Host)+len(req.Path) && string(u[:len(req.Host)]) == string(req.Host) &&
			string(u[len(req.Host):]) == string(req.Path) {
			return v.memo[i].frag
		}
	}
	return nil
}

// hold keeps sc until the assembly ends; false when it already ended.
func (v *reqVars) hold(sc *fragScratch) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		releaseFragScratch(sc)
		return false
	}
	v.held = append(v.held, sc)
	return true
}

// releaseHeld releases the fragments of an ended assembly.
func (v *reqVars) releaseHeld() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, sc := range v.held {
		releaseFragScratch(sc)
		v.held[i] = nil
	}
	v.held = v.held[:0]
}

// esiScratch is the per-request state the cache stage and the ESI stage
// share through the Exchange. Reset when the Exchange is released.
type esiScratch struct {
	fromCache bool         // the cache stage answered (Surrogate-Control consumed)
	surrogate bool         // ... and the origin asked for ESI
	done      bool         // ... with a final answer (not a template)
	entry     *cache.Entry // ... with this template entry, headers written
	vars      reqVars
	page      esi.Page
	cc        []byte // Cache-Control rewrite buffer
}

func (s *esiScratch) reset() {
	s.vars.releaseHeld()
	s.fromCache, s.surrogate, s.done, s.entry = false, false, false, nil
	s.vars.req, s.vars.requestID, s.vars.missed = nil, nil, false
	for i := range s.vars.memo {
		s.vars.memo[i].frag = nil
	}
	s.vars.memo = s.vars.memo[:0]
	s.page = esi.Page{}
}

var (
	_ esi.NowFetcher = (*fragmentFetcher)(nil)
	_ esi.NowFetcher = probeFetcher{}
)
