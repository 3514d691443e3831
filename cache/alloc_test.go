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
	cases := []struct{ name, method, header, value string }{
		{"identity", "GET", "Accept-Encoding", "identity"},
		{"gzip", "GET", "Accept-Encoding", "gzip"},
		{"brotli", "GET", "Accept-Encoding", "gzip, br"},
		{"304", "GET", "If-None-Match", `"v1"`},
		{"HEAD", "HEAD", "Accept-Encoding", "gzip"},
	}
	for _, tc := range cases {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/item/42?sku=7&utm=x")
		ctx.Request.Header.SetHost("shop.test")
		ctx.Request.Header.SetMethod(tc.method)
		ctx.Request.Header.Set(tc.header, tc.value)
		run := func() {
			ctx.Response.Reset()
			f.handler(&ctx)
		}
		run()
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
			t.Fatalf("%s: X-Cache %q, want HIT", tc.name, got)
		}
		if n := testing.AllocsPerRun(200, run); n > 0 {
			t.Fatalf("%s: a cache hit allocates %.1f times per request, want 0", tc.name, n)
		}
	}
}
