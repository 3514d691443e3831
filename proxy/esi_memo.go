package proxy

import (
	"bytes"
	"math"
	"slices"

	"flashgate/cache"
	"flashgate/esi"
)

// maxMemoBytes bounds one memoised page. A larger page is assembled per
// request as before. The memo is memory beyond cache.max_bytes: at most
// one page of this size per cached ESI shell entry, freed with the entry.
const maxMemoBytes = 1 << 20

// pageMemo is a page assembled from a cached shell, kept on the shell
// entry's metadata so that the next request for it is a pointer and a
// few comparisons instead of a route match and a cache lookup per
// fragment (issue #4: half the handler's time on a 3-fragment page).
//
// It is used only while it is provably what assembling again would
// give. What an assembly reads is: the template (the shell entry's,
// immutable), the request (nothing, see esiStage.memo and
// Template.RequestIndependent, except the page's host and path, which
// the memo records and compares), the route's compiled fragment routing
// (st, replaced by every reload), and one fresh cache entry per fragment.
// A fragment's answer can change only when its entry stops being fresh
// (until), is purged (gen), or is evicted and refilled while fresh, in
// which case the memo serves what a cache that had kept the entry would
// have served.
//
// Immutable once published; its byte slices are shared by every response
// served from it and must never be written to (body has no spare
// capacity, so an append to a response body copies).
type pageMemo struct {
	st    *esiStage // the compiled stage that assembled it
	gen   uint64    // cache.Generation read before its fragments were looked up
	until int64     // the earliest FreshUntil of its fragments, unix nanos
	host  []byte    // the page's Host, as sent
	path  []byte    // the page's normalised path
	ok    bool      // false: the page cannot be memoised while this memo is valid
	body  []byte
	res   esi.Result
}

// valid reports whether pm stands for assembling again x's page now: same
// stage, no purge since, every fragment and the shell still fresh, same
// host and path.
func (pm *pageMemo) valid(st *esiStage, x *Exchange, shell *cache.Entry) bool {
	return pm.st == st && x.Now < pm.until && x.Now < shell.FreshUntil() && pm.gen == cache.Generation() &&
		string(pm.path) == string(x.Path) && string(pm.host) == string(x.Ctx.Request.Header.Host())
}

// memoState is what the memo says about a page.
type memoState uint8

const (
	memoNone   memoState = iota // the page cannot be memoised: assemble as usual
	memoServed                  // answered from the memo
	memoBuild                   // assemble, then try to memoise the result
)

// memo answers x from its shell's memo when there is a valid one. Only a
// page that cannot depend on the request is memoised: a cached 2xx shell
// of a route that forwards no cookie or header to its fragments (so every
// fragment sub-request is the same whoever asks) and whose template reads
// no ESI variable. old is the memo found (nil if none), for memoize.
func (st *esiStage) memo(x *Exchange, tpl *esi.Template) (memoState, *pageMemo) {
	e := x.esi.entry
	if !st.memoable || e == nil || !tpl.RequestIndependent() || e.Status() < 200 || e.Status() > 299 {
		return memoNone, nil
	}
	pm := metaOf(e).memo.Load()
	switch {
	case x.Now >= e.FreshUntil():
		// A stale shell (within stale_while_revalidate): nothing kept now
		// would be valid, so do not look the fragments up again per request.
		return memoNone, nil
	case pm == nil || !pm.valid(st, x, e):
		return memoBuild, pm
	case !pm.ok:
		return memoNone, nil
	}
	x.Ctx.Response.SetBodyRaw(pm.body)
	st.pages[esiMemo].Inc()
	st.cacheHeaders(x, pm.res)
	return memoServed, nil
}

// memoize keeps the page just assembled into x's response on its shell
// entry, replacing old, when its every fragment was a fresh cache hit:
// res neither personal nor degraded, no fragment served stale or from an
// entry without metadata (both held per request), and each one's entry
// looked up again and found to be the very entry it came from. A page
// that is valid so but cannot be reused (a nested template reading
// variables, an include of the page itself, over maxMemoBytes) is
// remembered as such until it changes, so that it is not looked up again
// per request. gen is cache.Generation read before the assembly.
// Concurrent requests may race: the first to replace old wins, the others
// drop theirs.
//
// The lookups cost what the assembly's did, once per shell and fragment
// lifetime; each counts as a hit in the cache's metrics.
func (st *esiStage) memoize(x *Exchange, old *pageMemo, gen uint64, res esi.Result) {
	v := &x.esi.vars
	if res.Personal || res.Failed > 0 || v.holds() {
		return
	}
	pm := &pageMemo{st: st, gen: gen, until: math.MaxInt64, ok: true, res: res,
		host: bytes.Clone(x.Ctx.Request.Header.Host()), path: bytes.Clone(x.Path)}
	for i := range v.memo {
		f := &v.memo[i]
		fu, ok := st.freshUntil(v, f)
		if !ok {
			return
		}
		pm.until = min(pm.until, fu)
		if t := f.frag.Template; t != nil && t.HasESI() && !t.RequestIndependent() {
			// A nested template that reads variables: the page depends on
			// the request after all, for as long as this fragment is fresh.
			pm.ok = false
		}
		if includesPage(f, pm.host, pm.path) {
			// The assembler refuses an include of the page's own URL, query
			// included (a loop): whether it does depends on the request's
			// query, which the memo does not record.
			pm.ok = false
		}
	}
	body := x.Ctx.Response.Body()
	if len(body) > maxMemoBytes {
		pm.ok = false
	}
	if pm.until <= x.Now {
		return
	}
	if pm.ok {
		pm.body = slices.Clip(bytes.Clone(body))
	}
	metaOf(x.esi.entry).memo.CompareAndSwap(old, pm)
}

// freshUntil looks the fragment f of the page's assembly up again and
// returns its entry's FreshUntil when it is fresh and is the entry f was
// served from (the fragment is that entry's own).
func (st *esiStage) freshUntil(v *reqVars, f *memoFrag) (int64, bool) {
	req := esi.FragmentRequest{Host: f.url[:f.hostLen], Path: f.url[f.hostLen:]}
	sc := fragScratchPool.Get().(*fragScratch)
	defer releaseFragScratch(sc)
	rt, err := st.fr.route(&req, sc)
	if err != nil {
		return 0, false
	}
	cs, _ := routeCache(rt)
	if cs == nil {
		return 0, false
	}
	st.forward(&sc.req, v)
	res, ok := cs.c.Peek(&sc.req, cs.policy)
	if !ok {
		return 0, false
	}
	m := metaOf(res.Entry)
	if m == nil || f.frag != &m.frag && f.frag != &m.nested {
		return 0, false
	}
	return res.Entry.FreshUntil(), true
}

// includesPage reports whether fragment f is the page at host and path,
// with any query.
func includesPage(f *memoFrag, host, path []byte) bool {
	p := f.url[f.hostLen:]
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return bytes.Equal(p, path) && bytes.EqualFold(f.url[:f.hostLen], host)
}
