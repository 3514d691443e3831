package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestNeverCachedWithoutARule: each case is requested twice; the origin
// must see both requests and no answer may be a HIT.
func TestNeverCachedWithoutARule(t *testing.T) {
	cases := []struct {
		name    string
		headers []string                // origin response headers
		req     func(*fasthttp.Request) // client request changes
	}{
		{"Set-Cookie", []string{"Set-Cookie", "sid=abc; HttpOnly"}, nil},
		{"Cache-Control private", []string{"Cache-Control", "private, max-age=60"}, nil},
		{"Cache-Control no-store", []string{"Cache-Control", "no-store"}, nil},
		{"Cache-Control no-cache", []string{"Cache-Control", "no-cache"}, nil},
		{"Surrogate-Control no-store for us", []string{"Surrogate-Control", "no-store;flashgate"}, nil},
		{"Vary star", []string{"Vary", "*"}, nil},
		{"Authorization request", nil, func(r *fasthttp.Request) { r.Header.Set("Authorization", "Bearer alice") }},
		{"session cookie request", nil, func(r *fasthttp.Request) { r.Header.SetCookie("sid", "alice") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, page("secret", tc.headers...))
			g := newGateway(t, PolicySpec{TTL: time.Minute, SessionCookies: []string{"sid"}}, o, Options{})
			for i := range 2 {
				if r := g.get(t, "/account", tc.req); r.xcache == "HIT" {
					t.Fatalf("request %d: X-Cache HIT; a %s response must never be served from the cache", i+1, tc.name)
				}
			}
			if o.hits.Load() != 2 {
				t.Fatalf("origin hits = %d, want 2", o.hits.Load())
			}
		})
	}
}

// TestPersonalPageNeverServedToAnotherUser: with private: {cookie: sid},
// each user gets a copy of their own; the origin's private answer is kept
// per session, sent downstream as private, and never crosses users.
func TestPersonalPageNeverServedToAnotherUser(t *testing.T) {
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "private, max-age=60")
		ctx.SetBodyString("cart of " + string(ctx.Request.Header.Cookie("sid")))
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute, Private: PrivateSpec{Cookie: "sid"},
		CDNCacheControl: "public, s-maxage=60"}, o, Options{})
	as := func(sid string) func(*fasthttp.Request) {
		return func(r *fasthttp.Request) {
			if sid != "" {
				r.Header.SetCookie("sid", sid)
			}
		}
	}
	steps := []struct{ user, wantBody, wantXCache string }{
		{"alice", "cart of alice", "MISS"},
		{"alice", "cart of alice", "HIT"},
		{"bob", "cart of bob", "MISS"},
		{"bob", "cart of bob", "HIT"},
		{"alice", "cart of alice", "HIT"},
		{"", "cart of ", "BYPASS"},
	}
	for i, s := range steps {
		r := g.get(t, "/cart", as(s.user))
		if r.body != s.wantBody || r.xcache != s.wantXCache {
			t.Fatalf("step %d (%q): got %q %q, want %q %q", i, s.user, r.body, r.xcache, s.wantBody, s.wantXCache)
		}
		if s.user != "" && r.cc != "private, no-store" {
			t.Fatalf("step %d: Cache-Control %q, want private, no-store for a personal copy", i, r.cc)
		}
	}
}

// TestSessionCookieKeyed: a session cookie that the key includes does not
// force a bypass (the rule said how).
func TestSessionCookieKeyed(t *testing.T) {
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("hi " + string(ctx.Request.Header.Cookie("sid")))
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute, SessionCookies: []string{"sid"},
		Key: KeySpec{Cookies: []string{"sid"}}}, o, Options{})
	with := func(sid string) func(*fasthttp.Request) {
		return func(r *fasthttp.Request) { r.Header.SetCookie("sid", sid) }
	}
	g.get(t, "/", with("a"))
	if r := g.get(t, "/", with("b")); r.body != "hi b" || r.xcache != "MISS" {
		t.Fatalf("user b: got %q %q, want their own page (MISS)", r.body, r.xcache)
	}
	if r := g.get(t, "/", with("a")); r.body != "hi a" || r.xcache != "HIT" {
		t.Fatalf("user a again: got %q %q, want HIT of their own page", r.body, r.xcache)
	}
}

// TestCPDoS: only the allowed statuses are stored; 404/410 only with a
// negative TTL; errors never.
func TestCPDoS(t *testing.T) {
	for _, tc := range []struct {
		status   int
		negTTL   time.Duration
		wantHits int64
	}{
		{200, 0, 1}, {203, 0, 1}, {204, 0, 1}, {301, 0, 1}, {308, 0, 1},
		{404, 0, 2}, {404, time.Second, 1}, {410, time.Second, 1},
		{302, 0, 2}, {400, 0, 2}, {403, 0, 2}, {431, 0, 2}, {500, 0, 2}, {502, 0, 2},
	} {
		o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(tc.status)
			ctx.Response.Header.Set("Cache-Control", "public, max-age=600")
		})
		g := newGateway(t, PolicySpec{TTL: time.Minute, NegativeTTL: tc.negTTL}, o, Options{})
		g.get(t, "/x", nil)
		r := g.get(t, "/x", nil)
		if o.hits.Load() != tc.wantHits || r.status != tc.status {
			t.Errorf("status %d negative_ttl %s: origin hits %d (status %d), want %d",
				tc.status, tc.negTTL, o.hits.Load(), r.status, tc.wantHits)
		}
	}
}

// TestMissDoesNotForwardClientValidators: a 304 must never become the
// stored object, so the client's conditional headers stay at the edge.
func TestMissDoesNotForwardClientValidators(t *testing.T) {
	o := newOrigin(t, page("body", "ETag", `"e"`))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	r := g.get(t, "/x", func(r *fasthttp.Request) {
		r.Header.Set("If-None-Match", `"e"`)
		r.Header.Set("If-Modified-Since", "Tue, 10 Nov 2026 00:00:00 GMT")
	})
	if got := o.lastHeader("If-None-Match") + o.lastHeader("If-Modified-Since"); got != "" {
		t.Fatalf("origin received client validators %q", got)
	}
	if r.status != 304 {
		t.Fatalf("client with a matching ETag got %d, want 304 from the stored entry", r.status)
	}
	if r := g.get(t, "/x", nil); r.status != 200 || r.body != "body" {
		t.Fatalf("next client got %d %q, want the stored 200", r.status, r.body)
	}
}

// TestRequestBodyRefused: a GET with a body on a caching route is refused.
func TestRequestBodyRefused(t *testing.T) {
	o := newOrigin(t, page("x"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	r := g.get(t, "/x", func(r *fasthttp.Request) { r.SetBodyString("poison") })
	if r.status != 400 || o.hits.Load() != 0 {
		t.Fatalf("got %d with %d origin hits, want 400 and none", r.status, o.hits.Load())
	}
}

// TestHitForMiss: after an uncacheable answer the key bypasses the
// coalescing queue for hit_for_miss, then is tried again.
func TestHitForMiss(t *testing.T) {
	o := newOrigin(t, page("x", "Set-Cookie", "a=b"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{HitForMiss: 5 * time.Second})
	want := []string{"MISS", "BYPASS", "BYPASS"}
	for i, w := range want {
		if r := g.get(t, "/x", nil); r.xcache != w || !strings.Contains(r.header.String(), "Set-Cookie: a=b") {
			t.Fatalf("request %d: X-Cache %q, want %q (and the origin's Set-Cookie passed through)", i, r.xcache, w)
		}
	}
	g.clock.Advance(6 * time.Second)
	if r := g.get(t, "/x", nil); r.xcache != "MISS" {
		t.Fatalf("after hit_for_miss: X-Cache %q, want MISS", r.xcache)
	}
}
