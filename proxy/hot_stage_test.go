package proxy

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

const hotRules = `
hotspot:
  rate: 100/s
  sample: 1
  keys: [param, url]
  micro_cache: 1s
  key_limit: 200/s
  key_burst: 50
  static: [{kind: param, key: "item:42"}]
  session_cookies: [sid]
origins:
  shop: {servers: [%s]}
routes:
  - {name: item, path: "/item/{id}", origin: shop}
`

// hotGateway serves hotRules with a frozen clock and hot-key analysis
// stepped by the test; calls counts origin calls per path.
func hotGateway(t *testing.T) (*gateway, map[string]*atomic.Int64) {
	calls := map[string]*atomic.Int64{}
	for _, p := range []string{"/item/7", "/item/9", "/item/1", "/item/42"} {
		calls[p] = &atomic.Int64{}
	}
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if c := calls[string(ctx.Path())]; c != nil {
			c.Add(1)
		}
		if string(ctx.Path()) == "/item/9" {
			ctx.Response.Header.Set("Set-Cookie", "cart=abc") // a personal answer
		}
		ctx.SetBodyString("page " + string(ctx.Path()))
	})
	clock := newFakeClock()
	return newGateway(t, loadRules(t, hotRules, addr), Options{Now: clock.Now, hotManual: true}), calls
}

// TestHotKeyIsolated: one item at 50× the others turns hot; from then it
// is micro-cached (the origin sees it once) and limited by its own bucket,
// while every cold item keeps being served, none rejected.
func TestHotKeyIsolated(t *testing.T) {
	g, calls := hotGateway(t)
	for round := range 2 {
		for i := range 20 {
			if resp := g.do(t, "GET", itemPath(100+i), nil); resp.StatusCode() != 200 {
				t.Fatalf("cold item, round %d: %d", round, resp.StatusCode())
			}
		}
	}
	for range 100 {
		g.do(t, "GET", "/item/7", nil)
	}
	g.Snapshot().hot.det.Step()
	hot := map[string]bool{}
	for _, k := range g.HotKeys() {
		hot[k.Kind.String()+" "+k.Key] = true
	}
	if !hot["param item:7"] || !hot["url /item/7"] || !hot["param item:42"] || len(hot) != 3 {
		t.Fatalf("hot keys %v, want item:7 and its URL, and the static item:42", g.HotKeys())
	}

	before := calls["/item/7"].Load()
	var ok, limited int
	for i := range 100 {
		resp := g.do(t, "GET", "/item/7", nil, "Accept", "application/json")
		switch {
		case resp.StatusCode() == 200 && string(resp.Body()) == "page /item/7":
			ok++
		case resp.StatusCode() == 429 && strings.Contains(string(resp.Body()), "hot_key_limited"):
			limited++
		default:
			t.Fatalf("hot item: %d %q", resp.StatusCode(), resp.Body())
		}
		if i == 0 {
			g.env.Cache().Wait() // the store admits asynchronously
		}
		for i := range 3 { // cold items in between: never rejected
			if resp := g.do(t, "GET", itemPath(100+i), nil); resp.StatusCode() != 200 {
				t.Fatalf("cold item while item 7 is hot: %d %q", resp.StatusCode(), resp.Body())
			}
		}
	}
	if ok != 50 || limited != 50 {
		t.Errorf("hot item: %d served, %d limited; want its bucket's 50, then 429", ok, limited)
	}
	if n := calls["/item/7"].Load() - before; n != 1 {
		t.Errorf("origin saw the hot item %d times in one frozen second, want 1 (micro-cached)", n)
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_hotspot_turned_hot_total{kind="param"} 1`) {
		t.Errorf("metrics:\n%s", grep(m, "hotspot"))
	}
}

// TestHotKeyMicroCacheNeverPersonal: the micro-cache keeps the cache's
// never-leak rules: an answer setting a cookie is not stored, and a
// request with credentials is not answered from it.
func TestHotKeyMicroCacheNeverPersonal(t *testing.T) {
	g, calls := hotGateway(t)
	for range 100 {
		g.do(t, "GET", "/item/9", nil)
		g.do(t, "GET", "/item/1", nil)
	}
	g.Snapshot().hot.det.Step()
	c9, c1 := calls["/item/9"].Load(), calls["/item/1"].Load()
	for range 5 {
		g.do(t, "GET", "/item/9", nil)
		g.do(t, "GET", "/item/1", nil, "Authorization", "Bearer secret")
		g.do(t, "GET", "/item/1", nil, "Cookie", "sid=s3cret")
	}
	if n := calls["/item/9"].Load() - c9; n != 5 {
		t.Errorf("a hot item whose answer sets a cookie reached the origin %d of 5 times: micro-cached a personal answer", n)
	}
	if n := calls["/item/1"].Load() - c1; n != 10 {
		t.Errorf("requests with Authorization or a session cookie reached the origin %d of 10 times: answered from the micro-cache", n)
	}
}

// TestStaticHotKeyFromRules: a key declared in rules is hot from the
// start, with no traffic.
func TestStaticHotKeyFromRules(t *testing.T) {
	g, calls := hotGateway(t)
	for i := range 3 {
		g.do(t, "GET", "/item/42", nil)
		if i == 0 {
			g.env.Cache().Wait() // the store admits asynchronously
		}
	}
	if n := calls["/item/42"].Load(); n != 1 {
		t.Errorf("static hot key reached the origin %d times, want 1 (micro-cached from the start)", n)
	}
}

// TestHotKeyBulkheadKeepsColdKeys: one item hammered by 50 clients at once
// (its micro-cache off) gets one origin slot, its bulkhead; cold items,
// asked meanwhile, are never refused though the origin's limit is 4.
func TestHotKeyBulkheadKeepsColdKeys(t *testing.T) {
	o := &slowOrigin{delay: 10 * time.Millisecond}
	rules := `
hotspot: {rate: 1000/s, micro_cache: 0s, bulkhead: 1, static: [{kind: param, key: "item:7"}]}
origins:
  shop: {servers: [%s], limit: {max: 4, wait: 50ms}}
routes:
  - {name: item, path: "/item/{id}", origin: shop}
`
	g := newGateway(t, loadRules(t, rules, startOrigin(t, o.handle)), Options{hotManual: true})
	var hot []result
	done := make(chan struct{})
	go func() { hot = g.load(50, 4, "/item/7"); close(done) }()
	for i := 0; ; i++ {
		select {
		case <-done:
		default:
			resp := g.do(t, "GET", itemPath(100+i%10), nil, "Accept", "application/json")
			if resp.StatusCode() != 200 {
				t.Fatalf("cold item while item 7 is hammered: %d %s", resp.StatusCode(), resp.Body())
			}
			continue
		}
		break
	}
	shed := 0
	for _, r := range hot {
		if r.status == 503 && r.code == "overloaded" {
			shed++
		} else if r.status != 200 {
			t.Fatalf("hot item answer %+v", r)
		}
	}
	if shed == 0 {
		t.Error("50 concurrent requests of the hot item through a bulkhead of 1: none shed")
	}
	if p := o.peak.Load(); p > 4 {
		t.Errorf("origin peak %d over its limit 4", p)
	}
}

// TestHotDetectorAcrossReloads: a reload that leaves hotspot alone keeps
// the detector (what it learned stays); one that changes it starts anew.
func TestHotDetectorAcrossReloads(t *testing.T) {
	addr := startOrigin(t, func(*fasthttp.RequestCtx) {})
	fl := &fakeLoader{}
	mk := func(share, timeout string) {
		fl.set(loadRules(t, "hotspot: {share: %s}\norigins: {shop: {servers: [%s]}}\nroutes: [{name: item, path: \"/item/{id}\", origin: shop, timeout: %s}]\n", share, addr, timeout), nil)
	}
	mk("5%", "1s")
	g := newGateway(t, fl.cfg, Options{ConfigPath: "gateway.yaml", load: fl.load, hotManual: true})
	first := g.Snapshot().hot
	mk("5%", "2s")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if g.Snapshot().hot != first {
		t.Error("an unrelated reload replaced the hot-key detector")
	}
	mk("10%", "2s")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if h := g.Snapshot().hot; h == first || h.cfg.opts.Share != 0.10 {
		t.Error("a changed hotspot section kept the old detector")
	}
	g.env.mu.Lock()
	n := len(g.env.prot.hot)
	g.env.mu.Unlock()
	if n != 1 {
		t.Errorf("Env holds %d detectors after the swap, want 1", n)
	}
}

// TestHotClientOwnBucket: a hot client (a heavy buyer's address) is held
// to its own bucket, others are not, and its pages are not micro-cached
// (the page is not what is hot).
func TestHotClientOwnBucket(t *testing.T) {
	var calls atomic.Int64
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) { calls.Add(1) })
	rules := `
hotspot: {rate: 1000/s, keys: [client], key_limit: 10/s, key_burst: 3, static: [{kind: client, key: 203.0.113.66}]}
origins: {shop: {servers: [%s]}}
routes: [{name: item, path: "/item/{id}", origin: shop}]
`
	g := newGateway(t, loadRules(t, rules, addr), Options{Now: newFakeClock().Now, hotManual: true})
	var ok, limited int
	for range 10 {
		switch st := g.doFrom(t, "203.0.113.66", "GET", "/item/1", nil).StatusCode(); st {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("hot client: %d", st)
		}
		if st := g.doFrom(t, "203.0.113.7", "GET", "/item/1", nil).StatusCode(); st != 200 {
			t.Fatalf("another client: %d", st)
		}
	}
	if ok != 3 || limited != 7 {
		t.Errorf("hot client: %d served, %d limited; want its burst of 3, then 429", ok, limited)
	}
	if n := calls.Load(); n != 13 {
		t.Errorf("origin calls %d, want 13 (3 + 10: a hot client's pages are not micro-cached)", n)
	}
}
