//go:build !race

package proxy

import "testing"

// TestEdgeAnswerAllocs: answering at the edge (here a 404 from a trusted
// peer with X-Forwarded-For, so client IP resolution runs too) allocates
// nothing.
func TestEdgeAnswerAllocs(t *testing.T) {
	h, ctx := edgeHandler(t)
	h(ctx) // warm the pools and buffers
	if ctx.Response.StatusCode() != 404 {
		t.Fatalf("status %d, want 404", ctx.Response.StatusCode())
	}
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n > 0 {
		t.Fatalf("edge answer allocates %.1f times per request, want 0", n)
	}
}

// TestPassThroughAllocs: forwarding a request to the origin and its answer
// back allocates nothing in steady state (in-memory origin; the count is
// process-wide, so it includes the origin server and the client pool).
func TestPassThroughAllocs(t *testing.T) {
	h, ctx := passThroughHandler(t)
	for range 10 { // warm pools, buffers and the keep-alive connection
		ctx.Response.Reset()
		h(ctx)
	}
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d, want 200", ctx.Response.StatusCode())
	}
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n > 0 {
		t.Fatalf("pass-through allocates %.1f times per request, want 0", n)
	}
}
