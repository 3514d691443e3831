package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"flashgate/cache"
	"flashgate/hotspot"
	"flashgate/origin"
	"flashgate/rules"
)

// The `hotspot:` section: decoded and checked here, compiled into a
// hotRuntime kept in the Env (hot_stage.go runs it per request).

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

// HotspotWarnings lists, for `flashgate -check`, where hot-key detection
// would silently count nothing (the pitfall of hot-parameter rules fed no
// parameter): a route that has parameters, none named hotspot.param; or a
// section that counts only route parameters while no route has one.
func HotspotWarnings(cfg *rules.Config) []string {
	c, err := decodeHot(cfg.Hotspot)
	if c == nil || err != nil {
		return nil
	}
	var out []string
	anyParams := false
	for _, r := range cfg.Routes {
		if r.Pattern == nil {
			continue
		}
		names := r.Pattern.ParamNames()
		anyParams = anyParams || len(names) > 0
		if c.kinds[hotspot.KindParam] && c.param != "" && len(names) > 0 && !slices.Contains(names, c.param) {
			out = append(out, fmt.Sprintf("%s:%d:%d: route %q: hotspot.param %q is not a parameter of %s (it has %s): its items are not counted",
				r.Pos.File, r.Pos.Line, r.Pos.Col, r.Name, c.param, r.Path, strings.Join(names, ", ")))
		}
	}
	if !anyParams && c.kinds == [4]bool{hotspot.KindParam: true} {
		pos := cfg.Hotspot.Pos()
		out = append(out, fmt.Sprintf("%s:%d:%d: hotspot.keys counts only route parameters, and no route has one: nothing is counted (add url, user or client)",
			pos.File, pos.Line, pos.Col))
	}
	return out
}
