//go:build !race

package proxy

import "testing"

// TestPassThroughTCPAllocs: forwarding the bench's GET and purchase POST to
// a loopback origin allocates nothing per request in steady state (the
// count is process-wide: the origin server and the client pool are in it).
func TestPassThroughTCPAllocs(t *testing.T) {
	for _, post := range []bool{false, true} {
		h, ctx := tcpPassThroughHandler(t, post)
		for range 10 { // warm pools, buffers and the keep-alive connection
			ctx.Response.Reset()
			h(ctx)
		}
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("post=%v: status %d, want 200", post, ctx.Response.StatusCode())
		}
		if n := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			h(ctx)
		}); n > 0 {
			t.Fatalf("post=%v: pass-through allocates %.1f times per request, want 0", post, n)
		}
	}
}
