package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkPeek: the ESI fast path's lookup, a fresh hit and a miss, from
// parallel goroutines. Target: 0 allocs/op.
func BenchmarkPeek(b *testing.B) {
	f := newPeekFixture(b)
	f.fill(b, "/item/1")
	for _, tc := range []struct {
		name, uri string
		want      bool
	}{{"hit", "/item/1", true}, {"miss", "/item/2", false}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				peekRequest("GET", tc.uri).CopyTo(&req)
				for pb.Next() {
					if _, ok := f.c.Peek(&req, f.p); ok != tc.want {
						b.Errorf("Peek %s = %v, want %v", tc.uri, ok, tc.want)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPeekServe: the ESI fast path's lookup that also serves stale
// entries: a fresh hit and a stale hit whose refresh is running (the
// fixture's Background never runs it), from parallel goroutines. Target:
// 0 allocs/op.
func BenchmarkPeekServe(b *testing.B) {
	f := newPeekFixture(b)
	f.fill(b, "/item/1")
	f.fill(b, "/item/stale")
	f.c.Purge(Purge{Kind: PurgeURL, Host: "shop.test", Path: "/item/stale", Soft: true})
	fetch := Fetch(f.o.fetch) // bound once, as the proxy binds a route's
	for _, tc := range []struct {
		name, uri string
		want      State
	}{{"hit", "/item/1", Hit}, {"stale", "/item/stale", Stale}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				peekRequest("GET", tc.uri).CopyTo(&req)
				for pb.Next() {
					if res, ok := f.c.PeekServe(&req, f.p, nil, fetch); !ok || res.State != tc.want {
						b.Errorf("PeekServe %s = %v %v, want %v", tc.uri, ok, res.State, tc.want)
						return
					}
				}
			})
		})
	}
}
