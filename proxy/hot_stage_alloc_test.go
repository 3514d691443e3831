//go:build !race

package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestHotHitAllocs: a hot item's micro-cached hit, with its keys observed,
// allocates nothing; so does a cold item's pass-through with detection on.
func TestHotHitAllocs(t *testing.T) {
	s := rulesServer(t, hotBenchRules, true) // no analysis goroutine: its allocations are not the request's
	ctx := warmCtx(t, s, "/item/1")
	h := s.Handler()
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n > 0 {
		t.Fatalf("hot hit allocates %.1f times per request, want 0", n)
	}
	ctx.Request.SetRequestURI("/item/2")
	for range 10 {
		ctx.Response.Reset()
		h(ctx)
	}
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Header.Peek("X-Cache")) != "" {
		t.Fatalf("cold item: %d X-Cache %q, want a pass-through", ctx.Response.StatusCode(), ctx.Response.Header.Peek("X-Cache"))
	}
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n > 0 {
		t.Fatalf("cold pass-through with detection allocates %.1f times per request, want 0", n)
	}
}

// TestProtectedPassThroughAllocs: a pass-through through an origin with a
// concurrency limit (adaptive), breakers, a route priority, a bulkhead and
// a fallback allocates nothing either.
func TestProtectedPassThroughAllocs(t *testing.T) {
	s := rulesServer(t, `
origins:
  shop:
    servers: [ORIGIN]
    limit: {max: 64, adaptive: gradient}
    breaker: {failures: 5}
routes:
  - {name: item, path: "/item/{id}", origin: shop, priority: critical, bulkhead: 8, fallback: {body: busy}}
`, true)
	var req fasthttp.Request
	req.SetRequestURI("/item/2")
	req.Header.SetHost("shop.example")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:5000")), nil)
	h := s.Handler()
	for range 10 {
		ctx.Response.Reset()
		h(ctx)
	}
	if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) != len(page8K) {
		t.Fatalf("status %d, %d bytes", ctx.Response.StatusCode(), len(ctx.Response.Body()))
	}
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n > 0 {
		t.Fatalf("protected pass-through allocates %.1f times per request, want 0", n)
	}
}
