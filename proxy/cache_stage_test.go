package proxy

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/rules"
)

// fakeClock is an injected clock the test advances.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// loadYAML loads a rule file given as text, with every "ORIGIN" replaced
// by addr.
func loadYAML(t testing.TB, addr, text string) *rules.Config {
	t.Helper()
	cfg, err := rules.LoadBytes("test.yaml", []byte(strings.ReplaceAll(text, "ORIGIN", addr)))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

// cachedGateway is a gateway with an injected clock and synchronous
// background revalidation, so every cache transition is deterministic.
func cachedGateway(t testing.TB, cfg *rules.Config, clock *fakeClock) *gateway {
	t.Helper()
	return newGateway(t, cfg, Options{Now: clock.Now, cacheBackground: func(f func()) { f() }})
}

// get sends a GET and waits until the cache applied what it stored.
func (g *gateway) get(t testing.TB, uri string, hdr ...string) *fasthttp.Response {
	t.Helper()
	resp := g.do(t, "GET", uri, nil, hdr...)
	g.env.Cache().Wait()
	return resp
}

// countingOrigin serves body with headers and counts requests per path.
type countingOrigin struct {
	mu   sync.Mutex
	hits map[string]int
	h    func(ctx *fasthttp.RequestCtx)
}

func newCountingOrigin(h func(ctx *fasthttp.RequestCtx)) *countingOrigin {
	return &countingOrigin{hits: map[string]int{}, h: h}
}

func (o *countingOrigin) handle(ctx *fasthttp.RequestCtx) {
	o.mu.Lock()
	o.hits[string(ctx.Path())]++
	o.mu.Unlock()
	o.h(ctx)
}

func (o *countingOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

const cacheRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: item
    path: /item/{id}
    origin: shop
    cache:
      ttl: 10s
      stale_while_revalidate: 10s
      stale_if_error: 1m
      session_cookies: [sid]
      tags: ["item:{id}"]
  - name: account
    path: /account
    origin: shop
    cache: {ttl: 1m}
`

// TestCacheStatesThroughServer: MISS → HIT → STALE (background refresh) →
// EXPIRED (synchronous refetch), with an injected clock.
func TestCacheStatesThroughServer(t *testing.T) {
	o := newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html")
		fmt.Fprintf(ctx, "item page")
	})
	clock := newFakeClock()
	g := cachedGateway(t, loadYAML(t, startOrigin(t, o.handle), cacheRules), clock)
	steps := []struct {
		advance time.Duration
		xcache  string
		origin  int
	}{
		{0, "MISS", 1},
		{time.Second, "HIT", 1},
		{10 * time.Second, "STALE", 2}, // past ttl, within swr: served, refreshed once
		{time.Second, "HIT", 2},        // the refresh is fresh
		{25 * time.Second, "EXPIRED", 3},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		resp := g.get(t, "/item/1")
		if got := string(resp.Header.Peek("X-Cache")); got != s.xcache || string(resp.Body()) != "item page" || o.count("/item/1") != s.origin {
			t.Fatalf("step %d: X-Cache %q body %q origin requests %d; want %s, the page, %d",
				i, got, resp.Body(), o.count("/item/1"), s.xcache, s.origin)
		}
	}
}

// TestCacheNeverLeaksPersonalPages: pages for a session cookie, with
// Set-Cookie or marked private are never served to another user.
func TestCacheNeverLeaksPersonalPages(t *testing.T) {
	o := newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		user := string(ctx.Request.Header.Cookie("sid"))
		switch string(ctx.Path()) {
		case "/item/1": // a careless origin: personal, but says public
			ctx.Response.Header.Set("Cache-Control", "public, max-age=60")
		case "/item/2":
			ctx.Response.Header.Set("Set-Cookie", "seen=1")
		case "/account":
			user = string(ctx.Request.Header.Cookie("user"))
			ctx.Response.Header.Set("Cache-Control", "private")
		}
		ctx.SetBodyString("page of " + user)
	})
	g := cachedGateway(t, loadYAML(t, startOrigin(t, o.handle), cacheRules), newFakeClock())
	for _, tc := range []struct{ uri, cookieA, cookieB string }{
		{"/item/1", "sid=alice", "sid=bob"},
		{"/item/2", "sid=alice", "sid=bob"},
		{"/account", "user=alice", "user=bob"},
	} {
		for _, user := range []struct{ cookie, want string }{{tc.cookieA, "alice"}, {tc.cookieB, "bob"}, {tc.cookieA, "alice"}} {
			resp := g.get(t, tc.uri, "Cookie", user.cookie)
			if body := string(resp.Body()); body != "page of "+user.want {
				t.Fatalf("%s with %s: got %q, want the page of %s", tc.uri, user.cookie, body, user.want)
			}
		}
	}
	if n := o.count("/item/1"); n != 3 {
		t.Fatalf("session-cookie requests reached the origin %d times, want 3 (never cached)", n)
	}
}

// TestCacheCoalescesConcurrentMisses: 100 concurrent misses on one key
// make exactly one origin request, and all get its answer.
func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int32
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		requests.Add(1)
		<-release
		ctx.SetBodyString("hot item")
	})
	g := cachedGateway(t, loadYAML(t, addr, cacheRules), newFakeClock())
	const n = 100
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() { bodies[i] = string(g.do(t, "GET", "/item/7", nil).Body()) })
	}
	// Release the origin once every other request waits on the one fetch.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.metricsText(), fmt.Sprintf("flashgate_cache_coalesced_total %d", n-1)) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("requests never all joined the fetch:\n%s", g.metricsText())
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if b != "hot item" {
			t.Fatalf("request %d got %q", i, b)
		}
	}
	if requests.Load() != 1 {
		t.Fatalf("origin saw %d requests, want 1", requests.Load())
	}
}

// TestPurgeByTagThroughServer: the stock gate's call, Server.PurgeTag
// (and Server.Purge), drops the item's entries and only those.
func TestPurgeByTagThroughServer(t *testing.T) {
	o := newCountingOrigin(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("item") })
	g := cachedGateway(t, loadYAML(t, startOrigin(t, o.handle), cacheRules), newFakeClock())
	g.get(t, "/item/1")
	g.get(t, "/item/2")
	if n := g.PurgeTag("item:1", false); n != 1 {
		t.Fatalf("PurgeTag touched %d entries, want 1", n)
	}
	if x := g.get(t, "/item/1").Header.Peek("X-Cache"); string(x) != "MISS" {
		t.Fatalf("purged item: X-Cache %q, want MISS", x)
	}
	if x := g.get(t, "/item/2").Header.Peek("X-Cache"); string(x) != "HIT" {
		t.Fatalf("other item: X-Cache %q, want HIT", x)
	}
	if n := g.Purge(cache.Purge{Kind: cache.PurgeTag, Tag: "item:2", Soft: true}); n != 1 {
		t.Fatalf("soft Purge touched %d entries, want 1", n)
	}
	if x := g.get(t, "/item/2").Header.Peek("X-Cache"); string(x) != "STALE" {
		t.Fatalf("soft-purged item: X-Cache %q, want STALE (served while it refreshes)", x)
	}
	if !strings.Contains(g.metricsText(), `flashgate_cache_purges_total 2`) {
		t.Fatalf("cache metrics missing from WritePrometheus:\n%s", g.metricsText())
	}
}

// TestCacheErrorAnswers: a body on a cached GET is a 400; an origin that
// is down is the usual 502 page.
func TestCacheErrorAnswers(t *testing.T) {
	g := cachedGateway(t, loadYAML(t, deadAddr(t), cacheRules), newFakeClock())
	if resp := g.do(t, "GET", "/item/1", []byte("x=1")); resp.StatusCode() != 400 ||
		!strings.Contains(string(resp.Body()), "must not carry a body") {
		t.Fatalf("GET with body: %d %q, want 400 body_not_allowed", resp.StatusCode(), resp.Body())
	}
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 502 {
		t.Fatalf("origin down: %d, want 502", resp.StatusCode())
	}
}

// TestCacheCompileErrors: cache and esi mistakes are reported together,
// each with file:line:col and key.
func TestCacheCompileErrors(t *testing.T) {
	cfg := loadYAML(t, "127.0.0.1:1", `
cache:
  max_bytes: 1KiB
  max_object: 2KiB
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: a
    path: /a
    origin: shop
    cache: {stale_if_error: 1m}
  - name: b
    path: /b
    origin: shop
    esi: {mode: sometimes}
`)
	err := Check(cfg)
	if err == nil {
		t.Fatal("Check accepted broken cache and esi sections")
	}
	for _, want := range []string{
		"test.yaml:4:3: cache.max_object: 2048 bytes exceeds max_bytes (1024)",
		"test.yaml:12:12: routes[0].cache.ttl: required (or set ttl_from_origin: true)",
		`test.yaml:16:11: routes[1].esi.mode: unknown mode "sometimes" (allowed: auto, on, off, csi)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

// TestCacheSurvivesReload: a reload (here a new timeout and a new
// max_bytes) keeps the cache and its entries; the size change is refused
// until restart, and said so in the log.
func TestCacheSurvivesReload(t *testing.T) {
	o := newCountingOrigin(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("item") })
	addr := startOrigin(t, o.handle)
	next := loadYAML(t, addr, "cache: {max_bytes: 64MiB}\n"+strings.Replace(cacheRules, "origin: shop\n", "origin: shop\n    timeout: 2s\n", 1))
	g := newGateway(t, loadYAML(t, addr, cacheRules), Options{Now: newFakeClock().Now,
		load: func(string) (*rules.Config, error) { return next, nil }})
	before := g.env.Cache()
	g.get(t, "/item/1")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if x := g.get(t, "/item/1").Header.Peek("X-Cache"); string(x) != "HIT" || g.env.Cache() != before || o.count("/item/1") != 1 {
		t.Fatalf("after reload: X-Cache %q, same cache %v, origin requests %d; want HIT, true, 1",
			x, g.env.Cache() == before, o.count("/item/1"))
	}
	if !strings.Contains(g.logs.String(), "take effect only at the next restart") {
		t.Fatalf("no restart warning for cache.max_bytes; logs:\n%s", g.logs.String())
	}
}
