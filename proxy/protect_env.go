package proxy

import (
	"strconv"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/origin"
	"flashgate/rules"
)

// protectEnv is the protection state that outlives snapshots: the Plan B
// switches and the hot-key detectors (hot_config.go).
type protectEnv struct {
	sw  switchboard
	hot map[[32]byte]*hotRuntime // guarded by Env.mu, like the pools
	// bulkheads are the routes' own limiters, by route name and size, so
	// that a reload does not forget the requests in flight; guarded by Env.mu.
	bulkheads map[bulkheadKey]*origin.Limiter
	manual    bool // tests step the detectors themselves
	// switchChanges is flashgate_switch_changes_total{kind}.
	switchChanges map[string]*metrics.Counter
}

func (p *protectEnv) init(set *metrics.Set) {
	p.hot = map[[32]byte]*hotRuntime{}
	p.bulkheads = map[bulkheadKey]*origin.Limiter{}
	p.sw.on = set.GetOrCreateGauge("flashgate_switches_on", nil)
	p.switchChanges = map[string]*metrics.Counter{}
	for _, k := range SwitchKinds {
		p.switchChanges[k] = set.GetOrCreateCounter(`flashgate_switch_changes_total{kind="` + k + `"}`)
	}
}

// routeProtect is a route's compiled protection: its priority class, its
// own origin concurrency share (bulkhead), its fallback, the micro-cache
// its hot keys get when it has no cache of its own, and the switches it
// reads (by its name, on each request).
type routeProtect struct {
	priority origin.Priority
	bulkhead *origin.Limiter // nil = none
	fallback *fallback       // nil = none
	micro    *cacheStage     // nil = no micro-cache
	switches *switchboard
	hot      *hotRuntime // the snapshot's; nil = no hotspot section
	// hotFetch is Fetch through the hot set's bulkhead, bound once.
	hotFetch FetchFunc
}

// compileProtect compiles route r's protection into rt.
func (s *Snapshot) compileProtect(i int, r *rules.Route, rt *Route, rc *cache.Cache, env *Env) error {
	key := "routes[" + strconv.Itoa(i) + "]"
	p := &rt.prot
	p.switches = &env.prot.sw
	p.hot = s.hot
	var err error
	if p.priority, err = origin.ParsePriority(r.Priority); err != nil {
		return posErr(r.Pos, key+".priority", "%v", err)
	}
	if r.Bulkhead > 0 {
		p.bulkhead = env.bulkhead(r.Name, r.Bulkhead)
	}
	if p.fallback, err = s.compileRouteFallback(key, r); err != nil {
		return err
	}
	es, _ := rt.ESI.(*esiStage) // nil when the route never assembles
	if s.hot != nil && s.hot.cfg.micro > 0 && rt.Cache == nil {
		p.micro = newCacheStage(rc, s.hot.microPolicy, es)
	}
	p.hotFetch = func(req *fasthttp.Request, resp *fasthttp.Response) error {
		b := p.bulkhead
		if p.hot != nil && p.hot.bulkhead != nil {
			b = p.hot.bulkhead
		}
		return rt.fetchVia(req, resp, b)
	}
	if es != nil {
		p.hotFetch = withCapability(p.hotFetch) // as compileResponseStages does for rt.fetch
	}
	return nil
}

type bulkheadKey struct {
	route string
	size  int
}

// bulkhead returns route's own limiter of size slots (static, no wait: a
// bulkhead that is full sheds at once, its point being to stop one route
// from holding the origin).
func (e *Env) bulkhead(route string, size int) *origin.Limiter {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := bulkheadKey{route, size}
	if l := e.prot.bulkheads[k]; l != nil {
		return l
	}
	l := origin.NewLimiter(rules.OriginLimit{Max: size, Min: size})
	e.prot.bulkheads[k] = l
	return l
}

// retainProtect drops the hot-key detectors and bulkheads no live
// snapshot uses; called by Retain with Env.mu held.
func (e *Env) retainProtect(live []*Snapshot) (stop []*hotRuntime) {
	usedHot := map[*hotRuntime]bool{}
	usedBulk := map[*origin.Limiter]bool{}
	for _, s := range live {
		if s == nil {
			continue
		}
		usedHot[s.hot] = true
		for _, rt := range s.routes {
			usedBulk[rt.prot.bulkhead] = true
		}
	}
	for k, h := range e.prot.hot {
		if !usedHot[h] {
			delete(e.prot.hot, k)
			stop = append(stop, h)
		}
	}
	for k, l := range e.prot.bulkheads {
		if !usedBulk[l] {
			delete(e.prot.bulkheads, k)
		}
	}
	return stop
}
