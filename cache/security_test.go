package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestErrorAnswersDoNotDisableCaching: an attacker's request that makes
// the origin fail (431 for an oversized header, 400, 403, 429, 5xx, or a
// 404 when negative caching is off) must not make the URL hit-for-miss for
// everyone: the next ordinary request is a MISS that fills the cache, the
// one after a HIT.
func TestErrorAnswersDoNotDisableCaching(t *testing.T) {
	pad := strings.Repeat("a", 8<<10)
	for _, tc := range []struct {
		name   string
		status int // what the attacker's request gets from the origin
	}{
		{"431 oversized header", fasthttp.StatusRequestHeaderFieldsTooLarge},
		{"400", fasthttp.StatusBadRequest},
		{"403", fasthttp.StatusForbidden},
		{"429", fasthttp.StatusTooManyRequests},
		{"404 without negative_ttl", fasthttp.StatusNotFound},
		{"503", fasthttp.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The origin's fasthttp server reads headers into 4 KiB and
			// answers 431 itself to the 8 KiB header.
			o := newOrigin(t, page("page"))
			pad := pad
			if tc.status != fasthttp.StatusRequestHeaderFieldsTooLarge {
				pad = "1"
				o.set(func(ctx *fasthttp.RequestCtx) {
					if len(ctx.Request.Header.Peek("X-Pad")) > 0 {
						ctx.Error("no", tc.status)
						return
					}
					page("page")(ctx)
				})
			}
			g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{HitForMiss: 10 * time.Second})
			if r := g.get(t, "/item/1", func(r *fasthttp.Request) { r.Header.Set("X-Pad", pad) }); r.status != tc.status {
				t.Fatalf("attacker's request: status %d, want the origin's %d", r.status, tc.status)
			}
			for i, want := range []string{"MISS", "HIT"} {
				if r := g.get(t, "/item/1", nil); r.status != 200 || r.xcache != want || r.body != "page" {
					t.Fatalf("ordinary request %d after the attack: %d X-Cache %q body %q, want 200 %s page",
						i, r.status, r.xcache, r.body, want)
				}
			}
		})
	}
}

// TestUncacheableHeadersStillHitForMiss: a cacheable status made
// uncacheable by its headers keeps its hit-for-miss marker.
func TestUncacheableHeadersStillHitForMiss(t *testing.T) {
	for _, h := range [][]string{{"Set-Cookie", "s=1"}, {"Cache-Control", "private"},
		{"Cache-Control", "no-store"}, {"Cache-Control", "no-cache"}, {"Vary", "*"}} {
		t.Run(h[0]+": "+h[1], func(t *testing.T) {
			o := newOrigin(t, page("page", h...))
			g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{HitForMiss: 10 * time.Second})
			for i, want := range []string{"MISS", "BYPASS"} {
				if r := g.get(t, "/p", nil); r.xcache != want {
					t.Fatalf("request %d: X-Cache %q, want %s", i, r.xcache, want)
				}
			}
		})
	}
}

// TestRefreshErrorKeepsStale: a background refresh started by an
// attacker's request that the origin answers with a 4xx keeps the stale
// entry; the next request still gets it (and retries the refresh). A 404
// with negative caching does replace it.
func TestRefreshErrorKeepsStale(t *testing.T) {
	attack := func(r *fasthttp.Request) { r.Header.Set("X-Evil", "1") }
	for _, tc := range []struct {
		name          string
		status        int
		negTTL        time.Duration
		wantAfter     string // X-Cache of the next ordinary request
		wantAfterBody string
	}{
		{"400 keeps stale", fasthttp.StatusBadRequest, 0, "STALE", "v1"},
		{"403 keeps stale", fasthttp.StatusForbidden, 0, "STALE", "v1"},
		{"404 without negative_ttl keeps stale", fasthttp.StatusNotFound, 0, "STALE", "v1"},
		{"404 with negative_ttl replaces", fasthttp.StatusNotFound, time.Minute, "HIT", "gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, page("v1"))
			g := newGateway(t, PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: time.Minute,
				NegativeTTL: tc.negTTL}, o, Options{})
			g.get(t, "/p", nil)
			o.set(func(ctx *fasthttp.RequestCtx) {
				if len(ctx.Request.Header.Peek("X-Evil")) > 0 {
					ctx.Error("gone", tc.status)
					return
				}
				page("v1")(ctx)
			})
			g.clock.Advance(11 * time.Second)
			if r := g.get(t, "/p", attack); r.xcache != "STALE" || r.body != "v1" {
				t.Fatalf("attacker's request: X-Cache %q body %q, want STALE v1", r.xcache, r.body)
			}
			g.settle()
			if r := g.get(t, "/p", nil); r.xcache != tc.wantAfter || r.body != tc.wantAfterBody {
				t.Fatalf("next request: X-Cache %q body %q, want %s %s", r.xcache, r.body, tc.wantAfter, tc.wantAfterBody)
			}
			g.settle()
		})
	}
}

// TestHostSpellingsShareOneEntry: case, a trailing dot and the scheme's
// default port do not make a new cache entry; another port does.
func TestHostSpellingsShareOneEntry(t *testing.T) {
	o := newOrigin(t, page("page"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	for _, tc := range []struct{ host, want string }{
		{"shop.test", "MISS"},
		{"Shop.TEST", "HIT"},
		{"shop.test.", "HIT"},
		{"shop.test:80", "HIT"},
		{"SHOP.test.:080", "HIT"},
		{"shop.test:", "HIT"},
		{"shop.test:8080", "MISS"},
		{"shop.test:443", "MISS"}, // not the default port of http
	} {
		r := g.get(t, "/p", func(r *fasthttp.Request) { r.Header.SetHost(tc.host) })
		if r.xcache != tc.want {
			t.Fatalf("Host %q: X-Cache %q, want %s", tc.host, r.xcache, tc.want)
		}
	}
	if n := g.c.Purge(Purge{Kind: PurgeURL, Host: "Shop.Test.", Path: "/p"}); n != 1 {
		t.Fatalf("purge of Shop.Test./p removed %d entries, want 1 (the normalised host's)", n)
	}
	if r := g.get(t, "/p", func(r *fasthttp.Request) { r.Header.SetHost("shop.test:80") }); r.xcache != "MISS" {
		t.Fatalf("after purge: X-Cache %q, want MISS", r.xcache)
	}
}

func TestAppendHost(t *testing.T) {
	for _, tc := range []struct{ host, scheme, want string }{
		{"Shop.Example", "http", "shop.example"},
		{"shop.example.", "http", "shop.example"},
		{"shop.example:80", "http", "shop.example"},
		{"shop.example:443", "https", "shop.example"},
		{"shop.example:443", "http", "shop.example:443"},
		{"shop.example:80", "https", "shop.example:80"},
		{"shop.example.:443", "", "shop.example"},
		{"[::1]:80", "http", "[::1]"},
		{"[::1]", "http", "[::1]"},
		{"[::1]:8080", "http", "[::1]:8080"},
		{"SHOP.example:8080", "http", "shop.example:8080"},
		{"[FE80::A]:80", "http", "[fe80::a]"},
		{"[fe80::a]", "https", "[fe80::a]"},
		{"a:b:80", "http", "a:b"},
		{"shop.example:", "http", "shop.example"},
		{"shop.example:0080", "http", "shop.example"},
		{"127.0.0.1:8080", "http", "127.0.0.1:8080"},
		{"", "http", ""},
	} {
		var scheme []byte
		if tc.scheme != "" {
			scheme = []byte(tc.scheme)
		}
		if got := string(appendHost(nil, []byte(tc.host), scheme)); got != tc.want {
			t.Errorf("appendHost(%q, %q) = %q, want %q", tc.host, tc.scheme, got, tc.want)
		}
	}
}

// rawHeader makes the test client send name exactly as spelled.
func rawHeader(kv ...string) func(*fasthttp.Request) {
	return func(r *fasthttp.Request) {
		r.Header.DisableNormalizing()
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Add(kv[i], kv[i+1])
		}
	}
}

// headerModes are the ways a request reaches the cache: the client's
// (normalised) request through Serve, and the proxy's outbound request
// (DisableNormalizing) built from a normalised or a raw-named request.
var headerModes = []struct {
	name               string
	outbound, rawNames bool
}{
	{"Serve", false, false},
	{"ServeOutbound", true, false},
	{"ServeOutbound raw names", true, true},
}

type step struct {
	mod        func(*fasthttp.Request)
	xcache     string
	body       string
	originHits int64
}

func runSteps(t *testing.T, g *gateway, steps []step) {
	t.Helper()
	for i, s := range steps {
		r := g.get(t, "/p", s.mod)
		if r.xcache != s.xcache || r.body != s.body || g.o.hits.Load() != s.originHits {
			t.Fatalf("request %d: X-Cache %q body %q origin hits %d; want %s %q %d",
				i, r.xcache, r.body, g.o.hits.Load(), s.xcache, s.body, s.originHits)
		}
	}
}

// echo answers "page for " + the value of request header name, with extra
// response headers.
func echo(name string, headers ...string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		page("page for "+string(ctx.Request.Header.Peek(name)), headers...)(ctx)
	}
}

// TestVaryAnyCase: the origin's Vary: X-User splits entries by the
// client's X-User however either side spells the name.
func TestVaryAnyCase(t *testing.T) {
	for _, m := range headerModes {
		t.Run(m.name, func(t *testing.T) {
			o := newOrigin(t, echo("X-User", "Vary", "X-User"))
			g := newGatewayMode(t, PolicySpec{TTL: time.Minute}, o, Options{}, m.outbound, m.rawNames)
			runSteps(t, g, []step{
				{rawHeader("x-user", "alice"), "MISS", "page for alice", 1},
				{rawHeader("X-USER", "bob"), "MISS", "page for bob", 2},
				{rawHeader("X-User", "alice"), "HIT", "page for alice", 2},
				{rawHeader("x-USER", "bob"), "HIT", "page for bob", 2},
				{nil, "MISS", "page for ", 3},
			})
		})
	}
}

// TestKeyHeadersAnyCase: key.headers names match request headers in any case.
func TestKeyHeadersAnyCase(t *testing.T) {
	for _, name := range []string{"x-lang", "X-LANG", "X-Lang"} {
		for _, m := range headerModes {
			t.Run(name+"/"+m.name, func(t *testing.T) {
				o := newOrigin(t, echo("X-Lang"))
				g := newGatewayMode(t, PolicySpec{TTL: time.Minute, Key: KeySpec{Headers: []string{name}}},
					o, Options{}, m.outbound, m.rawNames)
				runSteps(t, g, []step{
					{rawHeader("X-Lang", "de"), "MISS", "page for de", 1},
					{rawHeader("x-lang", "en"), "MISS", "page for en", 2},
					{rawHeader("X-LANG", "de"), "HIT", "page for de", 2},
				})
			})
		}
	}
}

// TestPrivateHeaderAnyCase: private.header finds the header in any case,
// so personal copies are cached per value instead of always bypassing.
func TestPrivateHeaderAnyCase(t *testing.T) {
	for _, m := range headerModes {
		t.Run(m.name, func(t *testing.T) {
			o := newOrigin(t, echo("X-Session"))
			g := newGatewayMode(t, PolicySpec{TTL: time.Minute, Private: PrivateSpec{Header: "x-session"}},
				o, Options{}, m.outbound, m.rawNames)
			runSteps(t, g, []step{
				{nil, "BYPASS", "page for ", 1},
				{rawHeader("X-Session", "a"), "MISS", "page for a", 2},
				{rawHeader("x-session", "a"), "HIT", "page for a", 2},
				{rawHeader("X-SESSION", "b"), "MISS", "page for b", 3},
			})
		})
	}
}

// TestRequestHeadersAnyCase: Authorization in any case makes a request
// personal, and the client's validators in any case never reach the
// origin on a miss (or its 304 would stand in for the page).
func TestRequestHeadersAnyCase(t *testing.T) {
	for _, m := range headerModes {
		t.Run(m.name, func(t *testing.T) {
			o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
				if len(ctx.Request.Header.Peek("If-None-Match")) > 0 {
					ctx.SetStatusCode(fasthttp.StatusNotModified)
					return
				}
				echo("Authorization", "ETag", `"v1"`)(ctx)
			})
			g := newGatewayMode(t, PolicySpec{TTL: time.Minute}, o, Options{}, m.outbound, m.rawNames)
			runSteps(t, g, []step{
				{rawHeader("authorization", "Bearer alice"), "BYPASS", "page for Bearer alice", 1},
				{rawHeader("if-none-match", `"v0"`), "MISS", "page for ", 2},
				{nil, "HIT", "page for ", 2},
				{rawHeader("AUTHORIZATION", "Bearer bob"), "BYPASS", "page for Bearer bob", 3},
			})
		})
	}
}

// TestOriginGetsOnlyKeyedQuery: on a cached route the origin receives the
// query parameters the key holds, sorted, and nothing else, on a miss and
// on a background refresh; so a reflected parameter (markup, an ESI
// include) cannot be cached under a URL everyone requests.
func TestOriginGetsOnlyKeyedQuery(t *testing.T) {
	const evil = "reflect=%3Cesi%3Ainclude%20src%3D%22%2Fadmin%22%2F%3E&utm_source=x"
	for _, tc := range []struct {
		name, query string
		key         KeySpec
		want        string // the request URI the origin gets
	}{
		{"none", "?" + evil, KeySpec{}, "/p"},
		{"none explicit", "?" + evil + "&sku=7", KeySpec{Query: "none"}, "/p"},
		{"names", "?utm=x&sku=7&page=2&sku=9&" + evil, KeySpec{QueryParams: []string{"sku", "page"}}, "/p?page=2&sku=7"},
		{"names, none present", "?" + evil, KeySpec{QueryParams: []string{"sku"}}, "/p"},
		{"all, sorted", "?b=2&a=1&a=0&q=a%20b", KeySpec{Query: "all"}, "/p?a=0&a=1&b=2&q=a+b"},
	} {
		for _, m := range headerModes[:2] {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
					page("origin saw "+string(ctx.Request.Header.RequestURI()), "ETag", `"1"`)(ctx)
				})
				g := newGatewayMode(t, PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: time.Minute, Key: tc.key},
					o, Options{}, m.outbound, m.rawNames)
				if r := g.get(t, "/p"+tc.query, nil); r.xcache != "MISS" || r.body != "origin saw "+tc.want {
					t.Fatalf("miss: X-Cache %q body %q, want MISS %q", r.xcache, r.body, "origin saw "+tc.want)
				}
				g.clock.Advance(11 * time.Second)
				if r := g.get(t, "/p"+tc.query, nil); r.xcache != "STALE" {
					t.Fatalf("stale: X-Cache %q, want STALE", r.xcache)
				}
				g.settle()
				o.mu.Lock()
				got := string(o.last.RequestURI())
				o.mu.Unlock()
				if got != tc.want || o.hits.Load() != 2 {
					t.Fatalf("refresh sent %q (origin hits %d), want %q (2)", got, o.hits.Load(), tc.want)
				}
			})
		}
	}
}
