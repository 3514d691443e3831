package proxy

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"

	"flashgate/filters"
	"flashgate/rules"
)

// admissionStage is a route's Admission: its compiled filters.Chain behind
// the proxy's seam. Immutable; a reload compiles a new one over the same
// filters.Env, so the state its filters keep survives. Safe for
// concurrent use.
type admissionStage struct {
	chain *filters.Chain
}

var _ Admission = (*admissionStage)(nil)

// Admit runs the chain on the request. A rejection is the chain's
// prebuilt answer written into the response (0 allocs); the request then
// costs neither a cache lookup nor an origin call.
func (a *admissionStage) Admit(x *Exchange) bool {
	r := x.admissionRequest()
	if v := a.chain.Check(r); v.Rejected() {
		v.Write(x.Ctx)
		return false
	}
	x.filterCookies = x.filterCookies[:0]
	for _, v := range x.Ctx.Response.Header.Cookies() {
		x.filterCookies = append(append(x.filterCookies, v...), 0)
	}
	x.Observe = a.chain.Observes() || len(x.filterCookies) > 0
	return true
}

// Observe settles what Check reserved, exactly once per admitted request
// (filters.Chain's contract): Observe when the request went to the origin
// (its answer, or the gateway's 502/503/504 when the origin failed),
// Release when the cache answered without it, or a cached 2xx would count
// as a purchase.
//
// It also adds back the cookies the filters set on the way in (a device
// cookie, a queue ticket), which the answer replaced.
func (a *admissionStage) Observe(x *Exchange) {
	addFilterCookies(x)
	if answeredFromCache(x) {
		a.chain.Release(&x.freq)
		return
	}
	a.chain.Observe(&x.freq, &x.Ctx.Response)
}

// addFilterCookies adds back the cookies the filters set on an admitted
// request (Admit kept them) to the answer that replaced the response.
func addFilterCookies(x *Exchange) {
	h := &x.Ctx.Response.Header
	for rest := x.filterCookies; len(rest) > 0; {
		i := bytes.IndexByte(rest, 0)
		h.AddBytesKV(hdrSetCookie, rest[:i])
		rest = rest[i+1:]
	}
}

var (
	hdrXCache       = []byte("X-Cache")
	hdrSetCookie    = []byte("Set-Cookie")
	xCacheHit       = []byte("HIT")
	xCacheStale     = []byte("STALE")
	hdrXForwardedPr = []byte("X-Forwarded-Proto")
	protoHTTPS      = []byte("https")
)

// answeredFromCache reports whether the cache stage answered x with a
// stored entry rather than this request's own origin call. The cache marks
// every answer it gives with X-Cache (cache.Result.Write): HIT, and STALE
// (served while a background refresh or after the origin failed), are not
// this request's origin answer; MISS, EXPIRED and BYPASS are.
func answeredFromCache(x *Exchange) bool {
	if x.Route == nil || x.Route.Cache == nil {
		return false
	}
	v := x.Ctx.Response.Header.PeekBytes(hdrXCache)
	return bytes.Equal(v, xCacheHit) || bytes.Equal(v, xCacheStale)
}

// admissionRequest resets and fills the Exchange's filters.Request: the
// resolved client address, the request clock and whether the client
// came over TLS. It stays valid until the Exchange is released.
func (x *Exchange) admissionRequest() *filters.Request {
	r := &x.freq
	r.Reset()
	r.Ctx, r.Params, r.ClientIP, r.Now = x.Ctx, &x.Params, x.ClientIP, x.Now
	r.TLS = x.clientTLS()
	if x.Route != nil {
		r.Route = x.Route.Name
	}
	return r
}

// clientTLS reports whether the client reached us over TLS: this listener
// is TLS, or a trusted proxy (the CDN) says so in X-Forwarded-Proto (its
// first value, the hop nearest the client). Cookies the filters set are
// then Secure.
func (x *Exchange) clientTLS() bool {
	if x.Ctx.IsTLS() {
		return true
	}
	if !x.peerTrusted {
		return false
	}
	v := x.Ctx.Request.Header.PeekBytes(hdrXForwardedPr)
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(v), protoHTTPS)
}

// serveAdmissionPage answers a gateway page the live snapshot's filters
// registered (quiz, queue status, ...) and reports whether there was one.
// The page gets the Request the proxy resolved (client IP behind trusted
// proxies, TLS, clock) under filters.PageRequestKey.
func serveAdmissionPage(x *Exchange) bool {
	h := x.Snap.gateway[string(x.Path)]
	if h == nil {
		return false
	}
	x.Ctx.SetUserValue(filters.PageRequestKey, x.admissionRequest())
	h(x.Ctx)
	return true
}

// compileAdmission compiles the filters of every route of cfg into its
// Admission stage, in the Env's filters.Env, reporting every error. It
// returns nil, nil when no route has filters and none ever had (so a
// gateway without filters allocates no store). The caller commits with
// commitAdmission only if the whole snapshot compiled; a config that drops
// every filter is still committed, so the state of the dropped filters is
// released and SetStock no longer finds their routes.
func (s *Snapshot) compileAdmission(cfg *rules.Config, env *Env) (*admissionCompile, error) {
	if !anyFilters(cfg) && cfg.Admission.IsZero() && env.admissionFilters() == nil {
		return nil, nil
	}
	ac, err := env.beginAdmission(cfg.Admission)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, r := range cfg.Routes {
		if len(r.Filters) == 0 {
			continue
		}
		chain, err := filters.CompileWithPages(r.Name, r.Pages, r.Filters, ac.fenv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rt := s.byName[r.Name]; rt != nil && rt.Spec == r {
			rt.Admission = &admissionStage{chain: chain}
		}
	}
	return ac, errors.Join(errs...)
}

func anyFilters(cfg *rules.Config) bool {
	for _, r := range cfg.Routes {
		if len(r.Filters) > 0 {
			return true
		}
	}
	return false
}

// commitAdmission ends a successful compile: the filters.Env applies the
// rules' stock values and drops state no filter claims any more, and the
// gateway pages it returns are mounted in s (so they follow the snapshot
// that serves). /_flashgate/time is the server's own endpoint.
func (s *Snapshot) commitAdmission(ac *admissionCompile) {
	if ac == nil || ac.passive {
		return
	}
	pages := ac.fenv.Commit()
	s.gateway = make(map[string]fasthttp.RequestHandler, len(pages))
	for path, h := range pages {
		s.gateway[path] = h
	}
}

// SetStock sets the stock of item on route's stock gate (the Go API for
// operators; the admin HTTP API builds on it). A rule reload that does
// not change the route's stock filter keeps the value. It fails when the
// route has no stock filter or n is negative. Safe for concurrent use.
func (s *Server) SetStock(route, item string, n int) error {
	fenv := s.env.admissionFilters()
	if fenv == nil {
		return fmt.Errorf("route %q has no stock filter (no route has filters): %w", route, filters.ErrNotFound)
	}
	return fenv.SetStock(route, item, int64(n))
}

// admissionFilters returns the process filters.Env, nil before a
// configuration with filters was compiled.
func (e *Env) admissionFilters() *filters.Env {
	e.adm.mu.Lock()
	defer e.adm.mu.Unlock()
	return e.adm.fenv
}
