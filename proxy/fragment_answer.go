package proxy

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/esi"
)

// cachedFragment gets the fragment of a caching route from the cache: a
// hit (a stale one with no downstream lifetime, see staleFragment), or one
// coalesced origin fetch within the route's timeout. keep reports that the
// fragment points into sc.
func (st *esiStage) cachedFragment(rt *Route, cs *cacheStage, sc *fragScratch, forwarded bool) (*esi.Fragment, bool) {
	res, err := cs.c.Do(&sc.req, &sc.resp, cs.policy, &sc.params, cache.Fetch(rt.fetch))
	switch {
	case err != nil:
		return failedFragment(sc), true
	case res.Entry == nil: // passed through: the origin's answer is in sc.resp
		return st.responseFragment(sc, fragmentNests(rt), forwarded, res.ESI), true
	}
	fr, keep := st.storedFragment(rt, res.Entry, sc, forwarded)
	if res.State == cache.Stale { // within stale_while_revalidate, or standing in for a failed fetch
		return staleFragment(fr, sc), true
	}
	return fr, keep
}

// storedFragment is a cache entry as a fragment: the entry's own (shared,
// immutable) fragment, with its template when rt nests ESI; keep reports
// that it points into sc instead (an entry without metadata). A stored
// template that cannot be parsed is a failed include, never raw markup.
func (st *esiStage) storedFragment(rt *Route, e *cache.Entry, sc *fragScratch, forwarded bool) (*esi.Fragment, bool) {
	m := metaOf(e)
	if m == nil {
		return entryFragment(sc, e, forwarded), true
	}
	if fragmentNests(rt) && (e.SurrogateESI() || fragmentMode(rt) == esiOn) {
		switch {
		case m.nested.Template != nil:
			return &m.nested, false
		case m.err != nil:
			return st.brokenFragment(sc, m.err), false
		}
	}
	return &m.frag, false
}

// fragBrokenTemplate is a fragment whose template cannot be parsed: an
// include failure (alt, onerror, esi:except or a failed page follow).
var fragBrokenTemplate = &esi.Fragment{Status: fasthttp.StatusBadGateway}

// brokenFragment reports err, the parse error of the fragment sc asked
// for, as a page's is reported, and returns the failed fragment.
func (st *esiStage) brokenFragment(sc *fragScratch, err error) *esi.Fragment {
	st.templates.report(st.log, st.route, sc.req.Header.Host(), sc.path, err)
	return fragBrokenTemplate
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
	return f.st.responseFragment(sc, fragmentNests(rt), forwarded, want)
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
func (st *esiStage) responseFragment(sc *fragScratch, nested, forwarded, wantsESI bool) *esi.Fragment {
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
		switch t, err := esi.Parse(sc.resp.Body(), esi.ParseOptions{}); {
		case err == nil:
			sc.frag.Template = t
		case errors.Is(err, esi.ErrBinary):
			// bytes, not a template: included as they are, as a page would be served
		default:
			st.brokenFragment(sc, err)
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
