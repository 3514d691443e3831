//go:build !race

package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestHitAllocatesNothing: a cache hit (identity, gzip, brotli, a 304 and
// a HEAD) allocates nothing once the RequestCtx is warm.
func TestHitAllocatesNothing(t *testing.T) {
	f := newHitFixture(t)
	all := newHitFixtureKey(t, KeySpec{Query: "all", Headers: []string{"X-Lang"}, Cookies: []string{"currency"}})
	cases := []struct {
		name, method, header, value string
		f                           *hitFixture
	}{
		{"identity", "GET", "Accept-Encoding", "identity", f},
		{"gzip", "GET", "Accept-Encoding", "gzip", f},
		{"brotli", "GET", "Accept-Encoding", "gzip, br", f},
		{"304", "GET", "If-None-Match", `"v1"`, f},
		{"HEAD", "HEAD", "Accept-Encoding", "gzip", f},
		{"query all, header and cookie key", "GET", "Cookie", "currency=eur; theme=dark", all},
	}
	for _, tc := range cases {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/item/42?sku=7&utm=x")
		ctx.Request.Header.SetHost("shop.test")
		ctx.Request.Header.SetMethod(tc.method)
		ctx.Request.Header.Set(tc.header, tc.value)
		run := func() {
			ctx.Response.Reset()
			tc.f.handler(&ctx)
		}
		run() // stores this key's variant if the fixture did not
		tc.f.c.Wait()
		run()
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
			t.Fatalf("%s: X-Cache %q, want HIT", tc.name, got)
		}
		if n := testing.AllocsPerRun(200, run); n > 0 {
			t.Fatalf("%s: a cache hit allocates %.1f times per request, want 0", tc.name, n)
		}
	}
}
