package proxy

import (
	"fmt"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"flashgate/hotspot"
	"flashgate/origin"
)

// keyBuckets are the hot keys' own rate limits: GCRA in a fixed table
// indexed by key hash (lock-free, one CAS per request). The hot set is
// small (hotspot.top), so two hot keys sharing a slot is rare, and only
// makes them share a budget.
type keyBuckets struct {
	interval, tolerance int64
	tat                 [1024]atomic.Int64
}

// allow reports whether the hot key h may pass at now; scale (a switch's
// ×0.5) stretches the interval.
func (b *keyBuckets) allow(h uint64, now int64, scale float64) bool {
	interval := b.interval
	if scale > 0 && scale != 1 {
		interval = int64(float64(interval) / scale)
	}
	slot := &b.tat[h%uint64(len(b.tat))]
	for {
		tat := slot.Load()
		if tat-now > b.tolerance {
			return false
		}
		if slot.CompareAndSwap(tat, max(tat, now)+interval) {
			return true
		}
	}
}

var ansHotKey = newAnswer(429, "hot_key_limited", "Too many requests",
	"Very many people are asking for this right now. Please try again in a moment.", "1")

// protect runs the route's Plan B switches and the hot-key stage, after
// the route matched and before admission. It returns true when it wrote
// the answer.
func (s *Server) protect(x *Exchange, rt *Route) bool {
	p := &rt.prot
	rs := p.switches.route(rt.Name)
	if rs != nil {
		switch {
		case rs.closed != nil:
			rs.closed.write(x.Ctx)
			return true
		case rs.degrade:
			fallBack(x, errDegraded)
			return true
		}
	}
	h := p.hot
	if h == nil {
		return false
	}
	hot, item, hash := observeHot(x, rt, h)
	x.hot = item
	if hot && h.buckets != nil {
		scale := 0.0
		if rs != nil {
			scale = rs.scale
		}
		if !h.buckets.allow(hash, x.Now, scale) {
			ansHotKey.write(x.Ctx)
			return true
		}
	}
	return false
}

// observeHot records the request's keys and reports whether one of them
// is hot (and the first hot one's hash), and whether that is the thing
// asked for (its item or URL: micro-cache and bulkhead apply) rather than
// who asks (user, client: only their own bucket applies). Keys are built
// in the Exchange's buffer.
func observeHot(x *Exchange, rt *Route, h *hotRuntime) (hot, item bool, hash uint64) {
	d, c := h.det, &h.cfg
	anyHot := d.Any()
	see := func(k hotspot.Kind, key []byte) {
		if !anyHot {
			d.Observe(k, key)
			return
		}
		kh := d.Hash(k, key)
		d.ObserveHash(k, kh, key)
		if d.IsHot(kh) {
			if !hot {
				hot, hash = true, kh
			}
			item = item || k == hotspot.KindParam || k == hotspot.KindURL
		}
	}
	req := &x.Ctx.Request
	if c.kinds[hotspot.KindParam] && x.Params.Len() > 0 {
		var v []byte
		if c.param != "" {
			v = x.Params.Get(c.param)
		} else {
			_, v = x.Params.At(0)
		}
		if v != nil {
			x.hotKey = append(append(append(x.hotKey[:0], rt.Name...), ':'), v...)
			see(hotspot.KindParam, x.hotKey)
		}
	}
	if c.kinds[hotspot.KindURL] {
		x.hotKey = append(x.hotKey[:0], x.Path...)
		if q := req.URI().QueryString(); len(q) > 0 {
			x.hotKey = append(append(x.hotKey, '?'), q...)
		}
		see(hotspot.KindURL, x.hotKey)
	}
	if c.kinds[hotspot.KindUser] {
		var v []byte
		if c.userCookie != "" {
			v = req.Header.Cookie(c.userCookie)
		} else {
			v = req.Header.Peek(c.userHeader)
		}
		if len(v) > 0 {
			see(hotspot.KindUser, v)
		}
	}
	if c.kinds[hotspot.KindClient] && x.ClientIP.IsValid() {
		x.hotKey = x.ClientIP.AppendTo(x.hotKey[:0])
		see(hotspot.KindClient, x.hotKey)
	}
	return hot, item, hash
}

// errDegraded stands for the origin error of a degraded route: its
// fallback answers, or the final 503 when it cannot.
var errDegraded = fmt.Errorf("route degraded by a switch: %w", origin.ErrShed)

// stagesFor returns the cache stage and the fetch for x on rt: the
// route's cache, or the micro-cache for a hot key of a route without one
// (GET and HEAD only: the cache's own rules keep personal answers out);
// the plain fetch, the hot set's bulkhead fetch, or none at all when the
// route is switched to stale_only.
func stagesFor(x *Exchange, rt *Route) (Cache, FetchFunc) {
	c, fetch := rt.Cache, rt.fetch
	if x.hot {
		fetch = rt.prot.hotFetch
		if c == nil && rt.prot.micro != nil && (x.Ctx.IsGet() || x.Ctx.IsHead()) {
			c = rt.prot.micro
		}
	}
	if rs := rt.prot.switches.route(rt.Name); rs != nil && rs.staleOnly {
		fetch = staleOnlyFetch
	}
	return c, fetch
}

// fetchVia is Fetch with bulkhead b (nil = none) and the route's
// priority and scale switch.
func (rt *Route) fetchVia(req *fasthttp.Request, resp *fasthttp.Response, b *origin.Limiter) error {
	c := origin.Call{Priority: rt.prot.priority, Bulkhead: b}
	if sw := rt.prot.switches; sw != nil {
		if rs := sw.route(rt.Name); rs != nil {
			c.Scale = rs.scale
		}
	}
	if err := rt.Origin.DoCall(req, resp, rt.Timeout, c); err != nil {
		return err
	}
	cleanResponse(resp)
	return nil
}
