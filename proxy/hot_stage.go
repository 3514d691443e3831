package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/hotspot"
	"flashgate/origin"
	"flashgate/rules"
)

// hotSpec is the top-level `hotspot:` node (docs/protection.md).
type hotSpec struct {
	Window     rules.Duration  `yaml:"window"`
	Buckets    int             `yaml:"buckets"`
	Sample     int             `yaml:"sample"`
	Rate       rules.Rate      `yaml:"rate"`
	Share      percent         `yaml:"share"`
	MinSamples int             `yaml:"min_samples"`
	Top        int             `yaml:"top"`
	Keys       []string        `yaml:"keys"`
	Param      string          `yaml:"param"`
	User       hotUserSpec     `yaml:"user"`
	Static     []hotStaticSpec `yaml:"static"`
	MicroCache *rules.Duration `yaml:"micro_cache"`
	// SessionCookies mark a personal request the micro-cache never
	// answers (as cache.session_cookies); default: user.cookie.
	SessionCookies []string   `yaml:"session_cookies"`
	KeyLimit       rules.Rate `yaml:"key_limit"`
	KeyBurst       int        `yaml:"key_burst"`
	Bulkhead       int        `yaml:"bulkhead"`
}

type hotUserSpec struct {
	Cookie string `yaml:"cookie"`
	Header string `yaml:"header"`
}

type hotStaticSpec struct {
	Kind string `yaml:"kind"`
	Key  string `yaml:"key"`
}

// percent is a share written "5%" or as a fraction "0.05".
type percent float64

func (p *percent) UnmarshalText(b []byte) error {
	s := string(b)
	div := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, div = t, 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f/div <= 0 || f/div > 1 {
		return fmt.Errorf("bad share %q: want a percentage such as 5%% (or a fraction 0 < f <= 1)", b)
	}
	*p = percent(f / div)
	return nil
}

// hotConfig is hotSpec with defaults filled in, plain values only, so that
// its fingerprint keeps a detector across reloads that leave it alone.
type hotConfig struct {
	opts                   hotspot.Options
	static                 []hotspot.StaticKey
	kinds                  [4]bool
	param                  string
	userCookie, userHeader string
	micro                  time.Duration
	sessionCookies         string // comma-joined: a plain value for the fingerprint
	keyInterval            int64  // nanoseconds between a hot key's requests at key_limit; 0 = no bucket
	keyTolerance           int64
	bulkhead               int
}

// hotRuntime is one detector with what isolates hot keys: their buckets,
// the hot set's bulkhead, the micro-cache policy. Kept in the Env under
// the fingerprint of its hotConfig.
type hotRuntime struct {
	cfg         hotConfig
	det         *hotspot.Detector
	buckets     *keyBuckets     // nil = no key_limit
	bulkhead    *origin.Limiter // nil = none
	microPolicy *cache.Policy
	stop        context.CancelFunc
}

// decodeHot decodes and checks the `hotspot:` node; nil when absent.
func decodeHot(n rules.Node) (*hotConfig, error) {
	if n.IsZero() {
		return nil, nil
	}
	var hs hotSpec
	decodeErr := n.Decode(&hs) // reported with the checks below, all at once
	c := &hotConfig{
		opts: hotspot.Options{Window: hs.Window.Duration(), Buckets: hs.Buckets, SampleEvery: hs.Sample,
			Rate: hs.Rate.PerSecond(), Share: float64(hs.Share), MinSamples: hs.MinSamples, TopK: hs.Top},
		param: hs.Param, userCookie: hs.User.Cookie, userHeader: hs.User.Header,
		micro: time.Second, bulkhead: hs.Bulkhead,
	}
	if hs.MicroCache != nil {
		c.micro = hs.MicroCache.Duration()
	}
	sessions := hs.SessionCookies
	if sessions == nil && hs.User.Cookie != "" {
		sessions = []string{hs.User.Cookie}
	}
	c.sessionCookies = strings.Join(sessions, ",")
	var errs rules.Errors
	bad := func(key, format string, args ...any) { errs = append(errs, n.Errorf(key, format, args...)) }
	if c.opts.Rate == 0 && c.opts.Share == 0 && decodeErr == nil {
		bad("rate", "missing: want rate (e.g. rate: 200/s) or share (e.g. share: 5%%), or both")
	}
	for _, kv := range []struct {
		key string
		v   int
	}{{"buckets", hs.Buckets}, {"sample", hs.Sample}, {"min_samples", hs.MinSamples}, {"top", hs.Top}, {"key_burst", hs.KeyBurst}, {"bulkhead", hs.Bulkhead}} {
		if kv.v < 0 {
			bad(kv.key, "%d is negative", kv.v)
		}
	}
	if hs.Top > 1024 {
		bad("top", "%d: want at most 1024 (the hot set is published whole on every change)", hs.Top)
	}
	if c.micro > time.Minute {
		bad("micro_cache", "%s: want at most 1m (a micro-cache only shields the origin from a burst)", c.micro)
	}
	keys := hs.Keys
	if keys == nil {
		keys = []string{"param", "url"}
	}
	for i, k := range keys {
		kind, err := hotspot.ParseKind(k)
		if err != nil {
			errs = append(errs, n.Get("keys").Index(i).Errorf("", "%v", err))
			continue
		}
		c.kinds[kind] = true
	}
	if c.kinds[hotspot.KindUser] && (hs.User.Cookie == "") == (hs.User.Header == "") {
		bad("user", "keys has user: want exactly one of user.cookie or user.header naming the identity")
	}
	for i, st := range hs.Static {
		kind, err := hotspot.ParseKind(st.Kind)
		if err != nil || st.Key == "" {
			errs = append(errs, n.Get("static").Index(i).Errorf("", "want {kind: param|url|user|client, key: ...} (%v)", err))
			continue
		}
		c.static = append(c.static, hotspot.StaticKey{Kind: kind, Key: st.Key})
	}
	if hs.KeyLimit.N > 0 {
		c.keyInterval = int64(hs.KeyLimit.Interval())
		burst := max(1, hs.KeyBurst)
		if hs.KeyBurst == 0 {
			burst = max(1, hs.KeyLimit.N/10)
		}
		c.keyTolerance = c.keyInterval * int64(burst-1)
	}
	if decodeErr != nil || len(errs) > 0 {
		var all []error
		if decodeErr != nil {
			all = append(all, decodeErr)
		}
		for _, e := range errs {
			all = append(all, e)
		}
		return nil, errors.Join(all...)
	}
	return c, nil
}

// hotFor returns the Env's runtime for the snapshot's hotspot config,
// creating (and, unless passive, starting) one when the config changed.
func (e *Env) hotFor(n rules.Node) (*hotRuntime, error) {
	c, err := decodeHot(n)
	if c == nil || err != nil {
		return nil, err
	}
	fp := sha256.Sum256(fmt.Appendf(nil, "%#v", *c))
	e.mu.Lock()
	defer e.mu.Unlock()
	if h := e.prot.hot[fp]; h != nil {
		return h, nil
	}
	o := c.opts
	o.Static, o.Now, o.Logger, o.Metrics = c.static, e.now, e.log, e.Metrics.set
	h := &hotRuntime{cfg: *c, det: hotspot.New(o), stop: func() {}}
	if c.keyInterval > 0 {
		h.buckets = &keyBuckets{interval: c.keyInterval, tolerance: c.keyTolerance}
	}
	if c.bulkhead > 0 {
		h.bulkhead = origin.NewLimiter(rules.OriginLimit{Max: c.bulkhead, Min: c.bulkhead})
	}
	if c.micro > 0 {
		spec := cache.PolicySpec{TTL: c.micro, Key: cache.KeySpec{Query: "all"}, Tags: []string{"hot"}}
		if c.sessionCookies != "" {
			spec.SessionCookies = strings.Split(c.sessionCookies, ",")
		}
		p, err := cache.CompilePolicy(spec)
		if err != nil {
			return nil, posErr(n.Pos(), "hotspot.micro_cache", "%v", err)
		}
		h.microPolicy = p
	}
	if !e.passive && !e.prot.manual {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop = cancel
		go h.det.Run(ctx)
	}
	e.prot.hot[fp] = h
	return h, nil
}

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
