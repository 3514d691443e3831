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
	lower := newHitFixtureKey(t, KeySpec{Headers: []string{"x-lang"}})
	cases := []struct {
		name, method, header, value string
		f                           *hitFixture
		raw                         bool // the request does not normalise names, as the proxy's outbound one
	}{
		{"identity", "GET", "Accept-Encoding", "identity", f, false},
		{"gzip", "GET", "Accept-Encoding", "gzip", f, false},
		{"brotli", "GET", "Accept-Encoding", "gzip, br", f, false},
		{"304", "GET", "If-None-Match", `"v1"`, f, false},
		{"HEAD", "HEAD", "Accept-Encoding", "gzip", f, false},
		{"query all, header and cookie key", "GET", "Cookie", "currency=eur; theme=dark", all, false},
		{"key header in another case, names not normalised", "GET", "X-LANG", "de", lower, true},
	}
	for _, tc := range cases {
		var ctx fasthttp.RequestCtx
		if tc.raw {
			ctx.Request.Header.DisableNormalizing()
		}
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
