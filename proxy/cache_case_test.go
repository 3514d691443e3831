package proxy

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Origins may send header names in any case (HTTP/2 stacks and many
// frameworks send them lower-cased). The gateway's origin client keeps
// names as sent, so every rule the cache applies to a response header must
// hold whatever their spelling: a lower-case "cache-control: private" must
// not be cached, and an origin's own "etag" or "age" must not be replayed
// next to the gateway's.
func TestOriginHeaderNamesInAnyCase(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers [][2]string
		cached  bool
	}{
		{"lower-case private", [][2]string{{"cache-control", "private, max-age=60"}}, false},
		{"lower-case no-store", [][2]string{{"cache-control", "no-store"}}, false},
		{"lower-case set-cookie", [][2]string{{"set-cookie", "sid=secret; Path=/"}}, false},
		{"upper-case vary star", [][2]string{{"VARY", "*"}}, false},
		{"lower-case public", [][2]string{{"cache-control", "public, max-age=60"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
				hits.Add(1)
				for _, h := range tc.headers {
					ctx.Response.Header.Set(h[0], h[1])
				}
				ctx.Response.Header.Set("etag", `"origin-tag"`)
				ctx.Response.Header.Set("age", "5")
				ctx.SetBodyString("page for one user")
			})
			cfg := loadYAML(t, addr, `
origins:
  shop: {servers: [ORIGIN]}
routes:
  - name: page
    path: /page
    origin: shop
    cache: {ttl: 60s, ttl_from_origin: true}
`)
			g := cachedGateway(t, cfg, &fakeClock{t: time.Unix(1_800_000_000, 0)})
			first := g.get(t, "/page")
			second := g.get(t, "/page")
			if got := hits.Load() == 1; got != tc.cached {
				t.Fatalf("origin saw %d requests; cached = %v, want %v (X-Cache %s)", hits.Load(), got, tc.cached, second.Header.Peek("X-Cache"))
			}
			for _, resp := range []*fasthttp.Response{first, second} {
				var ages, etags int
				for k := range resp.Header.All() {
					switch strings.ToLower(string(k)) {
					case "age":
						ages++
					case "etag":
						etags++
					}
				}
				if ages > 1 || etags > 1 {
					t.Errorf("%d Age and %d ETag headers sent: the origin's were replayed beside the gateway's", ages, etags)
				}
			}
		})
	}
}
