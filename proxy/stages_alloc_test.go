//go:build !race

package proxy

import (
	"bytes"
	"testing"
)

// TestCacheHitAllocs: a cache hit through the pipeline allocates nothing.
func TestCacheHitAllocs(t *testing.T) {
	s := stagesServer(t)
	ctx := warmCtx(t, s, "/item/1")
	h := s.Handler()
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n > 0 {
		t.Fatalf("cache hit allocates %.1f times per request, want 0", n)
	}
	if !bytes.Equal(ctx.Response.Body(), page8K) {
		t.Fatalf("cache hit body is %d bytes, want the 8 KiB page", len(ctx.Response.Body()))
	}
}

// TestESIAssembleAllocs: assembling a cached shell of cached fragments
// (the NowFetcher fast path) allocates nothing.
func TestESIAssembleAllocs(t *testing.T) {
	for _, uri := range []string{"/page/3", "/page/50"} {
		s := stagesServer(t)
		ctx := warmCtx(t, s, uri)
		h := s.Handler()
		if n := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			h(ctx)
		}); n > 0 {
			t.Fatalf("%s: assembly allocates %.1f times per request, want 0", uri, n)
		}
		if body := ctx.Response.Body(); bytes.Contains(body, []byte("<esi:")) || !bytes.Contains(body, []byte(`$0.99`)) {
			t.Fatalf("%s: not assembled:\n%s", uri, body)
		}
	}
}
