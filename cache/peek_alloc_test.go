//go:build !race

package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPeekAllocatesNothing: a Peek hit and a Peek miss allocate nothing.
func TestPeekAllocatesNothing(t *testing.T) {
	f := newPeekFixture(t)
	f.fill(t, "/item/1")
	var hit, miss fasthttp.Request
	peekRequest("GET", "/item/1").CopyTo(&hit)
	peekRequest("GET", "/item/2").CopyTo(&miss)
	for _, tc := range []struct {
		name string
		req  *fasthttp.Request
		want bool
	}{{"hit", &hit, true}, {"miss", &miss, false}} {
		if _, ok := f.c.Peek(tc.req, f.p); ok != tc.want {
			t.Fatalf("%s: Peek = %v, want %v", tc.name, ok, tc.want)
		}
		if n := testing.AllocsPerRun(500, func() { f.c.Peek(tc.req, f.p) }); n > 0 {
			t.Fatalf("%s: Peek allocates %.1f times, want 0", tc.name, n)
		}
	}
}
