package proxy

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// slowOrigin answers after delay and records the most requests it ever
// had in flight at once.
type slowOrigin struct {
	delay          time.Duration
	inflight, peak atomic.Int64
	calls          atomic.Int64
	status         atomic.Int64 // 0 = 200
}

func (o *slowOrigin) handle(ctx *fasthttp.RequestCtx) {
	o.calls.Add(1)
	n := o.inflight.Add(1)
	defer o.inflight.Add(-1)
	for p := o.peak.Load(); n > p && !o.peak.CompareAndSwap(p, n); p = o.peak.Load() {
	}
	time.Sleep(o.delay) // the origin's own service time: what makes it slow
	if s := o.status.Load(); s != 0 {
		ctx.SetStatusCode(int(s))
	}
	ctx.SetBodyString("origin " + string(ctx.Path()))
}

// result is one answer as a load generator sees it.
type result struct {
	status     int
	code       string // the gateway's error code, from its JSON body
	retryAfter string
	err        error
}

// load sends n GETs of path from each of clients goroutines at once.
func (g *gateway) load(clients, n int, path string) []result {
	c := g.client("198.51.100.1")
	c.MaxConns = clients
	var mu sync.Mutex
	var out []result
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for range n {
				req.SetRequestURI(path)
				req.Header.SetHost("shop.example")
				req.Header.Set("Accept", "application/json")
				r := result{err: c.DoTimeout(req, resp, 30*time.Second)}
				r.status, r.retryAfter = resp.StatusCode(), string(resp.Header.Peek("Retry-After"))
				var body struct{ Error string }
				if json.Unmarshal(resp.Body(), &body) == nil {
					r.code = body.Error
				}
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

const overloadRules = `
origins:
  shop:
    servers: [%s]
    limit: {max: 8, wait: 5ms}
routes:
  - {name: browse, path: "/browse/{id}", origin: shop, priority: sheddable}
  - {name: checkout, methods: [GET], path: "/checkout/{id}", origin: shop, priority: critical}
`

// TestOverloadShedsBrowsingKeepsCheckout offers 20× what a slow origin
// can take (160 concurrent browsers against a limit of 8, beside 2
// checkout clients): the origin
// never has more than 8 requests in flight, every refused request gets a
// clear 503 with Retry-After, and checkout, critical, keeps succeeding.
func TestOverloadShedsBrowsingKeepsCheckout(t *testing.T) {
	o := &slowOrigin{delay: 20 * time.Millisecond}
	g := newGateway(t, loadRules(t, overloadRules, startOrigin(t, o.handle)), Options{})
	var browse, checkout []result
	var wg sync.WaitGroup
	wg.Go(func() { browse = g.load(160, 3, "/browse/1") })
	// Two checkout clients keep at most 2 of the 8 slots: sheddable traffic
	// may use the origin while fewer than half its slots are taken, so
	// browsing always has room to get some requests through. (With 4 they
	// can hold half the slots for the whole test, and every browse request
	// is rightly shed.)
	wg.Go(func() { checkout = g.load(2, 30, "/checkout/1") })
	wg.Wait()

	if p := o.peak.Load(); p > 8 {
		t.Errorf("origin peak in flight %d, over the limit 8", p)
	}
	for _, r := range checkout {
		if r.err != nil || r.status != 200 {
			t.Fatalf("checkout during overload: %+v, want 200", r)
		}
	}
	shed, ok := 0, 0
	for _, r := range browse {
		switch {
		case r.err == nil && r.status == 200:
			ok++
		case r.err == nil && r.status == 503 && r.code == "overloaded" && r.retryAfter != "":
			shed++
		default:
			t.Fatalf("browse answer %+v: want 200, or 503 overloaded with Retry-After", r)
		}
	}
	if shed == 0 || ok == 0 {
		t.Errorf("browse: %d ok, %d shed; want both under 20× overload", ok, shed)
	}
	m := g.metricsText()
	if !strings.Contains(m, `flashgate_origin_shed_total{origin="shop",priority="critical"} 0`) ||
		strings.Contains(m, `flashgate_origin_shed_total{origin="shop",priority="sheddable"} 0`) {
		t.Errorf("shed metrics:\n%s", grep(m, "shed"))
	}
	t.Logf("browse: %d admitted, %d shed; checkout %d/%d ok; origin peak in flight %d", ok, shed, len(checkout), len(checkout), o.peak.Load())
}

const breakerRules = `
origins:
  shop:
    servers: [%s]
    breaker: {failures: 3, open: 10s, probes: 1}
routes:
  - {name: item, path: "/item/{id}", origin: shop, fallback: {body: "busy page", status: 200}}
  - {name: buy, path: "/buy/{id}", origin: shop}
`

// TestBreakerOpensProbesClosesThroughGateway: 3 failing answers open the
// server's breaker; while open the origin is not called, the fallback or a
// 503 answers and health says degraded; after the open period one probe
// goes through and, the origin healthy again, closes it.
func TestBreakerOpensProbesClosesThroughGateway(t *testing.T) {
	o := &slowOrigin{}
	o.status.Store(500)
	clock := newFakeClock()
	g := newGateway(t, loadRules(t, breakerRules, startOrigin(t, o.handle)), Options{Now: clock.Now})
	for range 3 {
		if st := g.do(t, "GET", "/buy/1", nil).StatusCode(); st != 500 {
			t.Fatalf("failing origin: %d, want its 500 passed on", st)
		}
	}
	calls := o.calls.Load()
	if st := g.do(t, "GET", "/buy/1", nil); st.StatusCode() != 503 || string(st.Header.Peek("Retry-After")) == "" {
		t.Errorf("breaker open, no fallback: %d, want 503 with Retry-After", st.StatusCode())
	}
	if resp := g.do(t, "GET", "/item/1", nil); string(resp.Body()) != "busy page" {
		t.Errorf("breaker open, route with fallback: %d %q, want the fallback", resp.StatusCode(), resp.Body())
	}
	if o.calls.Load() != calls {
		t.Errorf("the origin was called %d times with its breaker open", o.calls.Load()-calls)
	}
	health := g.do(t, "GET", "/_flashgate/health", nil)
	if health.StatusCode() != 200 || !strings.Contains(string(health.Body()), `"status":"degraded"`) ||
		!strings.Contains(string(health.Body()), `"breakers_open":["shop/`) {
		t.Errorf("health with the breaker open: %d %s, want 200 degraded naming the breaker", health.StatusCode(), health.Body())
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_origin_breaker_open{origin="shop",server=`) || !strings.Contains(g.logs.String(), "breaker opened") {
		t.Errorf("breaker opening not in metrics or logs")
	}

	o.status.Store(0) // the origin recovers
	clock.Advance(10 * time.Second)
	if resp := g.do(t, "GET", "/buy/1", nil); resp.StatusCode() != 200 {
		t.Errorf("probe after the open period: %d, want 200", resp.StatusCode())
	}
	if st := g.Origins()[0].Breaker; st != "closed" {
		t.Errorf("breaker after a good probe: %s, want closed", st)
	}
	if health := g.do(t, "GET", "/_flashgate/health", nil); !strings.Contains(string(health.Body()), `"status":"ok"`) {
		t.Errorf("health after recovery: %s", health.Body())
	}
}

const fallbackRules = `
origins:
  shop: {servers: [%s]}
routes:
  - name: item
    path: "/item/{id}"
    origin: shop
    cache: {ttl: 1s, stale_if_error: 1m}
    fallback: {file: %s, status: 503}
  - {name: buy, path: "/buy/{id}", origin: shop}
`

// TestFallbackChainInOrder: when the origin cannot answer, a stale copy
// comes first, then the route's fallback, then a 503 or 502.
func TestFallbackChainInOrder(t *testing.T) {
	o := &slowOrigin{}
	file := t.TempDir() + "/busy.html"
	if err := os.WriteFile(file, []byte("<p>come back soon</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	addr := startOrigin(t, o.handle)
	g := newGateway(t, loadRules(t, fallbackRules, addr, file), Options{Now: clock.Now, cacheBackground: func(f func()) { f() }})
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 {
		t.Fatalf("warm-up: %d", resp.StatusCode())
	}
	clock.Advance(5 * time.Second)
	if err := g.SetSwitch(Switch{Kind: SwitchDown, Origin: "shop", Server: addr}); err != nil {
		t.Fatal(err)
	}
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 || string(resp.Body()) != "origin /item/1" {
		t.Errorf("1st in the chain, stale copy: %d %q", resp.StatusCode(), resp.Body())
	}
	resp := g.do(t, "GET", "/item/2", nil)
	if resp.StatusCode() != 503 || string(resp.Body()) != "<p>come back soon</p>" || string(resp.Header.Peek("X-Flashgate-Fallback")) != "body" {
		t.Errorf("2nd, the route's fallback file: %d %q", resp.StatusCode(), resp.Body())
	}
	if resp := g.do(t, "GET", "/buy/2", nil); resp.StatusCode() != 502 {
		t.Errorf("3rd, no fallback: %d, want 502", resp.StatusCode())
	}
	health := g.do(t, "GET", "/_flashgate/health", nil)
	if health.StatusCode() != 200 || !strings.Contains(string(health.Body()), `"switches_on":["server:shop/`) {
		t.Errorf("health with a server switched down but fallbacks: %d %s, want 200 degraded", health.StatusCode(), health.Body())
	}
}

// TestHealthDownWhenNothingCanAnswer: every origin unreachable and no
// fallback or cache: 503.
func TestHealthDownWhenNothingCanAnswer(t *testing.T) {
	addr := startOrigin(t, func(*fasthttp.RequestCtx) {})
	g := newGateway(t, loadRules(t, "origins: {shop: {servers: [%s]}}\nroutes: [{name: buy, path: /buy, origin: shop}]\n", addr), Options{})
	if resp := g.do(t, "GET", "/_flashgate/health", nil); resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"status":"ok"`) {
		t.Errorf("healthy: %d %s", resp.StatusCode(), resp.Body())
	}
	g.SetSwitch(Switch{Kind: SwitchDown, Origin: "shop", Server: addr})
	resp := g.do(t, "GET", "/_flashgate/health", nil)
	if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), `"status":"down"`) || !strings.Contains(string(resp.Body()), `"origins_unreachable":["shop"]`) {
		t.Errorf("nothing can answer: %d %s, want 503 down", resp.StatusCode(), resp.Body())
	}
}

func itemPath(i int) string { return "/item/" + strconv.Itoa(i) }

// TestScaleSwitchShrinksRouteShare: scale ×0.5 halves the route's share
// of its origin's limit (normal: 90% of 10 → 4 slots), and survives a
// reload.
func TestScaleSwitchShrinksRouteShare(t *testing.T) {
	o := &slowOrigin{delay: 50 * time.Millisecond} // long enough that 40 clients overlap on any box
	addr := startOrigin(t, o.handle)
	fl := &fakeLoader{}
	cfg := loadRules(t, "origins: {shop: {servers: [%s], limit: {max: 10, wait: 1ms}}}\nroutes: [{name: item, path: \"/item/{id}\", origin: shop}]\n", addr)
	fl.set(cfg, nil)
	g := newGateway(t, cfg, Options{ConfigPath: "gateway.yaml", load: fl.load})
	g.load(40, 2, "/item/1")
	unscaled := o.peak.Load()
	if err := g.SetSwitch(Switch{Kind: SwitchScale, Route: "item", Factor: 0.5}); err != nil {
		t.Fatal(err)
	}
	next := loadRules(t, "origins: {shop: {servers: [%s], limit: {max: 10, wait: 1ms}}}\nroutes: [{name: item, path: \"/item/{id}\", origin: shop, timeout: 3s}]\n", addr)
	fl.set(next, nil)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	o.peak.Store(0)
	shed := 0
	for _, r := range g.load(40, 2, "/item/1") {
		if r.status == 503 && r.code == "overloaded" {
			shed++
		}
	}
	if p := o.peak.Load(); p > 4 {
		t.Errorf("scaled ×0.5: origin peak %d, want at most 4 of the limit 10", p)
	}
	if shed == 0 {
		t.Error("scaled ×0.5 under 40 concurrent requests: nothing shed")
	}
	t.Logf("peak in flight: %d unscaled, %d scaled ×0.5 (%d shed)", unscaled, o.peak.Load(), shed)
}
