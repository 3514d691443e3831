//go:build !race

package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPeekAllocatesNothing: a Peek hit and a Peek miss allocate nothing.
func TestPeekAllocatesNothing(t *testing.T) {
	f := newPeekFixture(t)
	f.fill(t, "/item/1")
	var hit, miss fasthttp.Request
	peekRequest("GET", "/item/1").CopyTo(&hit)
	peekRequest("GET", "/item/2").CopyTo(&miss)
	for _, tc := range []struct {
		name string
		req  *fasthttp.Request
		want bool
	}{{"hit", &hit, true}, {"miss", &miss, false}} {
		if _, ok := f.c.Peek(tc.req, f.p); ok != tc.want {
			t.Fatalf("%s: Peek = %v, want %v", tc.name, ok, tc.want)
		}
		if n := testing.AllocsPerRun(500, func() { f.c.Peek(tc.req, f.p) }); n > 0 {
			t.Fatalf("%s: Peek allocates %.1f times, want 0", tc.name, n)
		}
	}
}

// TestPeekServeAllocatesNothing: a fresh hit, a miss and a stale hit whose
// refresh is already running (the fixture's Background never runs it)
// allocate nothing; only the call that starts a refresh does.
func TestPeekServeAllocatesNothing(t *testing.T) {
	f := newPeekFixture(t)
	f.fill(t, "/item/1")
	f.fill(t, "/item/stale")
	var hit, miss, stale fasthttp.Request
	peekRequest("GET", "/item/1").CopyTo(&hit)
	peekRequest("GET", "/item/2").CopyTo(&miss)
	peekRequest("GET", "/item/stale").CopyTo(&stale)
	f.c.Purge(Purge{Kind: PurgeURL, Host: "shop.test", Path: "/item/stale", Soft: true})
	fetch := Fetch(f.o.fetch) // bound once, as the proxy binds a route's: a method value per call allocates
	if res, ok := f.c.PeekServe(&stale, f.p, nil, fetch); !ok || res.State != Stale || f.bg.Load() != 1 {
		t.Fatalf("soft-purged entry: ok %v State %v, %d refreshes; want STALE and one refresh", ok, res.State, f.bg.Load())
	}
	for _, tc := range []struct {
		name  string
		req   *fasthttp.Request
		want  bool
		state State
	}{{"hit", &hit, true, Hit}, {"miss", &miss, false, 0}, {"stale, refresh running", &stale, true, Stale}} {
		if res, ok := f.c.PeekServe(tc.req, f.p, nil, fetch); ok != tc.want || res.State != tc.state {
			t.Fatalf("%s: PeekServe = %v %v, want %v %v", tc.name, ok, res.State, tc.want, tc.state)
		}
		if n := testing.AllocsPerRun(500, func() { f.c.PeekServe(tc.req, f.p, nil, fetch) }); n > 0 {
			t.Fatalf("%s: PeekServe allocates %.1f times, want 0", tc.name, n)
		}
	}
	if n := f.bg.Load(); n != 1 {
		t.Fatalf("%d refreshes started, want the one", n)
	}
}
