package proxy

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/rules"
)

// shopOrigin is an ESI origin: shells, a shared price, a per-user cart, a
// slow fragment, nested and looping templates.
func shopOrigin(slow <-chan struct{}) *countingOrigin {
	return newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		shell := func(body string) {
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			h.Set("Cache-Control", "public, s-maxage=60, max-age=10")
			h.Set("ETag", `"shell-1"`)
			h.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
			ctx.SetContentType("text/html")
			ctx.SetBodyString(body)
		}
		switch string(ctx.Path()) {
		case "/item/1", "/buffered/1", "/csi/1":
			shell(`<h1>Item</h1><esi:include src="/frag/price/1"/>|<esi:include src="/frag/cart"/>`)
		case "/buffered/2", "/failing/1":
			shell(`<h1>Item</h1><esi:include src="/frag/missing"/>`)
		case "/shared/1":
			shell(`<h1>Item</h1><esi:include src="/frag/price/1"/>`)
		case "/ssrf/1":
			shell(`<p><esi:include src="http://169.254.169.254/latest/meta-data/" onerror="continue"/></p>`)
		case "/nested/1":
			shell(`[<esi:include src="/frag/nest"/>][<esi:include src="/frag/loop" onerror="continue"/>]`)
		case "/slow/1":
			shell(`HEAD<esi:include src="/frag/slow" onerror="continue"/>TAIL`)
		case "/frag/price/1":
			h.Set("Cache-Control", "public, s-maxage=10, max-age=5")
			ctx.SetBodyString("$9")
		case "/frag/cart":
			h.Set("Cache-Control", "private, no-store")
			ctx.SetBodyString("cart of " + string(ctx.Request.Header.Cookie("uid")))
		case "/frag/nest":
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetBodyString(`nest:<esi:include src="/frag/price/1"/>`)
		case "/frag/loop":
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetBodyString(`loop:<esi:include src="/frag/loop"/>`)
		case "/frag/slow":
			<-slow
			ctx.SetBodyString("late")
		default:
			ctx.SetStatusCode(404)
		}
	})
}

const esiRules = `
server: {unmatched: shop}
origins:
  shop:
    servers: [ORIGIN]
    hosts: [shop.example]
routes:
  - name: page
    path: /{kind}/{id}
    origin: shop
    cache: {ttl: 1m, tags: ["item:{id}"]}
    esi:
      forward_cookies: [uid]
      fragment_timeout: 200ms
  - name: buffered
    path: /buffered/{id}
    origin: shop
    cache: {ttl: 1m}
    esi: {buffer: true, forward_cookies: [uid]}
  - name: csi
    path: /csi/{id}
    origin: shop
    esi: csi
  - name: price
    path: /frag/price/{id}
    origin: shop
    cache: {ttl: 10s}
  - name: cart
    path: /frag/cart
    origin: shop
  - name: frag
    path: /frag/{name}
    origin: shop
`

func esiGateway(t *testing.T, slow <-chan struct{}) (*gateway, *countingOrigin) {
	o := shopOrigin(slow)
	return cachedGateway(t, loadYAML(t, startOrigin(t, o.handle), esiRules), newFakeClock()), o
}

// TestESIPerUserFragments: the shell and the price are cached and shared,
// the cart is each user's own; the page is private and carries none of
// the shell's validators, streamed or buffered.
func TestESIPerUserFragments(t *testing.T) {
	g, o := esiGateway(t, nil)
	for _, path := range []string{"/item/1", "/buffered/1"} {
		for _, uid := range []string{"alice", "bob", "alice"} {
			resp := g.get(t, path, "Cookie", "uid="+uid)
			want := "<h1>Item</h1>$9|cart of " + uid
			if string(resp.Body()) != want {
				t.Fatalf("%s for %s: body %q, want %q", path, uid, resp.Body(), want)
			}
			if cc := string(resp.Header.Peek("Cache-Control")); cc != "private, no-store" {
				t.Fatalf("%s: Cache-Control %q, want private, no-store (a fragment is per user)", path, cc)
			}
			for _, h := range []string{"ETag", "Last-Modified", "Surrogate-Control"} {
				if v := resp.Header.Peek(h); len(v) > 0 {
					t.Fatalf("%s: assembled page carries the shell's %s %q", path, h, v)
				}
			}
		}
	}
	if n := o.count("/frag/price/1"); n != 1 {
		t.Fatalf("price fragment fetched %d times, want 1 (cached)", n)
	}
	if n := o.count("/frag/cart"); n != 6 {
		t.Fatalf("cart fragment fetched %d times, want 6 (never cached)", n)
	}
	if n := o.count("/item/1"); n != 1 {
		t.Fatalf("shell fetched %d times, want 1 (cached)", n)
	}
	for _, want := range []string{`flashgate_esi_pages_total{path="streamed"} 3`, `flashgate_esi_pages_total{path="buffered"} 3`} {
		if !strings.Contains(g.metricsText(), want) {
			t.Fatalf("metrics lack %s:\n%s", want, g.metricsText())
		}
	}
}

// TestESISharedPageCacheability: once its fragments are cached, a page of
// shared fragments keeps a public Cache-Control, capped at its shortest
// fragment (price: 10s). The first page, whose price missed, was streamed
// (its headers left before the price was known) and so is private.
func TestESISharedPageCacheability(t *testing.T) {
	g, _ := esiGateway(t, nil)
	for i, want := range []string{"private, no-store", "public, s-maxage=10, max-age=10", "public, s-maxage=10, max-age=10"} {
		resp := g.get(t, "/shared/1")
		if string(resp.Body()) != "<h1>Item</h1>$9" {
			t.Fatalf("page %d: body %q", i, resp.Body())
		}
		if cc := string(resp.Header.Peek("Cache-Control")); cc != want {
			t.Fatalf("page %d: Cache-Control %q, want %q", i, cc, want)
		}
	}
	for _, want := range []string{`flashgate_esi_pages_total{path="fast"} 2`, `flashgate_esi_pages_total{path="streamed"} 1`} {
		if !strings.Contains(g.metricsText(), want) {
			t.Fatalf("metrics lack %s:\n%s", want, g.metricsText())
		}
	}
}

// TestESIRefusesForeignHosts: an absolute src naming a host that is no
// configured origin is never fetched, even with an unmatched-origin
// fallback that would forward it.
func TestESIRefusesForeignHosts(t *testing.T) {
	g, o := esiGateway(t, nil)
	resp := g.get(t, "/ssrf/1")
	if string(resp.Body()) != "<p></p>" || o.count("/latest/meta-data/") != 0 {
		t.Fatalf("body %q, metadata requests %d; want the include dropped, never fetched",
			resp.Body(), o.count("/latest/meta-data/"))
	}
}

// TestESINestedAndLoop: a fragment that is itself a template is assembled;
// one that includes itself is stopped.
func TestESINestedAndLoop(t *testing.T) {
	g, _ := esiGateway(t, nil)
	resp := g.get(t, "/nested/1")
	if string(resp.Body()) != "[nest:$9][]" {
		t.Fatalf("body %q, want the nested price and the loop dropped", resp.Body())
	}
}

// TestESISlowFragment: a fragment slower than fragment_timeout (200ms)
// does not hold the page: it is dropped (onerror="continue") and the page
// ends. The bound is generous; the fragment never answers on its own.
func TestESISlowFragment(t *testing.T) {
	slow := make(chan struct{})
	defer close(slow)
	g, _ := esiGateway(t, slow)
	start := time.Now()
	resp := g.get(t, "/slow/1")
	if string(resp.Body()) != "HEADTAIL" {
		t.Fatalf("body %q, want HEADTAIL", resp.Body())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("page took %v, want it bounded by the fragment timeout", d)
	}
}

// TestDemoItemAssembles: the demo shop behind gateway.yaml's own rules
// answers /item/1 assembled: price shown, no ESI markup left.
func TestDemoItemAssembles(t *testing.T) {
	shop := demo.New(demo.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go shop.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(shop.Shutdown)
	cfg, err := rules.Load("../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cfg.Origins {
		o.Servers = []string{ln.Addr().String()}
		o.Health = rules.HealthCheck{}
	}
	g := newGateway(t, cfg, Options{})
	var wg sync.WaitGroup
	// /item/1: cached shell; /item/7: the sale's uncached route (parsed per answer).
	for _, c := range []struct{ uid, path string }{{"alice", "/item/1"}, {"bob", "/item/1"}, {"carol", "/item/7"}} {
		uid := c.uid
		wg.Go(func() {
			resp := g.do(t, "GET", c.path, nil, "Cookie", "uid="+uid, "Host", "localhost")
			body := string(resp.Body())
			switch {
			case resp.StatusCode() != 200:
				t.Errorf("%s: status %d", uid, resp.StatusCode())
			case strings.Contains(body, "<esi:"):
				t.Errorf("%s: ESI markup reached the client:\n%s", uid, body)
			case !strings.Contains(body, `<span class="now">$`):
				t.Errorf("%s: no price in the page:\n%s", uid, body)
			case c.path == "/item/1" && !strings.Contains(body, `data-user="`+uid+`"`):
				// (the sale's route forwards no cookies: its cart says "sign in")
				t.Errorf("%s: not this user's cart:\n%s", uid, body)
			}
		})
	}
	wg.Wait()
}

// TestESIFailedInclude: an include that fails without alt, onerror or
// esi:except fails the page (ESI 1.0 §3.1) with an error status that says
// so, buffered or streamed (buffer: false, the default): the streamed
// page's head is held until its fatal include is in, so the failure is a
// 502 page, never a 200 whose body is cut.
func TestESIFailedInclude(t *testing.T) {
	g, _ := esiGateway(t, nil)
	for _, path := range []string{"/buffered/2", "/failing/1"} {
		resp := g.get(t, path)
		body := string(resp.Body())
		if resp.StatusCode() != 502 || strings.Contains(body, "<h1>Item</h1>") || !strings.Contains(body, "ESI include failed") {
			t.Fatalf("%s: %d %q, want a 502 page naming the failed ESI include", path, resp.StatusCode(), body)
		}
	}
	if !strings.Contains(g.metricsText(), "flashgate_esi_errors_total 2") {
		t.Fatalf("esi errors not counted:\n%s", g.metricsText())
	}
}

// TestESIClientSideIncludes: a csi route sends placeholders and one
// script; nothing is fetched at the edge.
func TestESIClientSideIncludes(t *testing.T) {
	g, o := esiGateway(t, nil)
	body := string(g.get(t, "/csi/1").Body())
	if !strings.Contains(body, `data-fg-csi="/frag/price/1"`) || !strings.Contains(body, "<script") ||
		strings.Contains(body, "<esi:") || o.count("/frag/price/1") != 0 {
		t.Fatalf("body %q, price fetched %d times; want placeholders, a script, no edge fetch", body, o.count("/frag/price/1"))
	}
}

// TestESIModes: `esi:` as a scalar or a mapping; absent means auto; off
// leaves the route without an ESI stage (and without Surrogate-Capability).
func TestESIModes(t *testing.T) {
	cfg := loadYAML(t, "127.0.0.1:1", `
origins:
  shop: {servers: [ORIGIN]}
routes:
  - {name: absent, path: /a, origin: shop}
  - {name: on, path: /b, origin: shop, esi: on}
  - {name: csi, path: /c, origin: shop, esi: {mode: csi}}
  - {name: off, path: /d, origin: shop, esi: off}
`)
	s, err := Compile(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]esiMode{"absent": esiAuto, "on": esiOn, "csi": esiCSI} {
		if st, ok := s.Route(name).ESI.(*esiStage); !ok || st.mode != want {
			t.Errorf("route %s: ESI stage %#v, want mode %d", name, s.Route(name).ESI, want)
		}
	}
	if s.Route("off").ESI != nil {
		t.Errorf("route off has an ESI stage")
	}
}
