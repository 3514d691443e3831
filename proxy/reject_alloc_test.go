//go:build !race

package proxy

import "testing"

// TestRejectBrowserAllocs: rejecting a browser's request (the full set of
// browser headers, HTML page) allocates nothing per request.
func TestRejectBrowserAllocs(t *testing.T) {
	h, _ := admissionHandler(t, rejectRules)
	ctx := browserCtx(t, "POST", "/buy/42", "203.0.113.7:5000")
	for range 10 { // spend the limit; warm pools and buffers
		ctx.Response.Reset()
		h(ctx)
	}
	n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	})
	if s := ctx.Response.StatusCode(); s != 429 {
		t.Fatalf("status %d, want 429: %s", s, ctx.Response.Body())
	}
	if len(ctx.Response.Header.Peek("X-Request-Id")) == 0 {
		t.Fatal("rejection without X-Request-Id")
	}
	if n > 0 {
		t.Fatalf("rejecting a browser allocates %.1f times per request, want 0", n)
	}
}
