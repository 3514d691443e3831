//go:build !race

package proxy

import (
	"bytes"
	"testing"
)

// TestESIMemoAllocs: a page of 3 and of 50 fresh cached fragments, once
// memoised (warmCtx's second request assembles it on the fast path), is
// answered from its memo with no allocation, the same bytes every time
// (TestESIMemoReused compares them with the assembled page).
func TestESIMemoAllocs(t *testing.T) {
	for _, uri := range []string{"/page/3", "/page/50"} {
		s := stagesServer(t)
		ctx := warmCtx(t, s, uri)
		assembled := bytes.Clone(ctx.Response.Body())
		h := s.Handler()
		memo := s.metrics.set.GetOrCreateCounter(`flashgate_esi_pages_total{path="memo"}`)
		before := memo.Get()
		if n := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			h(ctx)
		}); n > 0 {
			t.Fatalf("%s: a memo hit allocates %.1f times per request, want 0", uri, n)
		}
		if n := memo.Get() - before; n != 1001 {
			t.Fatalf("%s: %d of 1001 pages from the memo", uri, n)
		}
		if !bytes.Equal(ctx.Response.Body(), assembled) || !bytes.Contains(assembled, []byte(`$2.99`)) {
			t.Fatalf("%s: memo page differs from the assembled one:\n%s\n---\n%s", uri, ctx.Response.Body(), assembled)
		}
	}
}
