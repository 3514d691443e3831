//go:build !race

package proxy

import "testing"

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
