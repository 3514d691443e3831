//go:build !race

package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// staleStagesRules is stagesRules with fragments that turn stale after 1h
// and may be served so for another hour, under a shell fresh for 3h.
const staleStagesRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: page
    path: /page/{n}
    origin: shop
    cache: {ttl: 3h}
  - name: frag
    path: /frag/{i}
    origin: shop
    cache: {ttl: 1h, stale_while_revalidate: 1h}
`

// TestESIStaleFragmentAllocs: a page of 3 and of 50 fragments stale within
// stale_while_revalidate is assembled on the fast path (not streamed) with
// no allocation once each fragment's refresh is running; the refreshes
// (which this test's Background never runs) are started once each.
func TestESIStaleFragmentAllocs(t *testing.T) {
	for _, tc := range []struct {
		uri   string
		frags int64
	}{{"/page/3", 3}, {"/page/50", 50}} {
		clock := newFakeClock()
		var started atomic.Int64
		s, err := New(Options{Config: loadYAML(t, "origin:80", staleStagesRules), Dial: inMemoryOrigin(t, stagesOrigin),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.Now,
			cacheBackground: func(func()) { started.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.env.Close)
		ctx := warmCtx(t, s, tc.uri)
		clock.Advance(90 * time.Minute)
		h := s.Handler()
		ctx.Response.Reset()
		h(ctx) // starts the refreshes
		if n := started.Load(); n != tc.frags {
			t.Fatalf("%s: %d refreshes started, want %d (one per fragment)", tc.uri, n, tc.frags)
		}
		if n := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			h(ctx)
		}); n > 0 {
			t.Fatalf("%s: assembly of stale fragments allocates %.1f times per request, want 0", tc.uri, n)
		}
		if ctx.Response.IsBodyStream() {
			t.Fatalf("%s: page streamed, want the fast path", tc.uri)
		}
		if body := ctx.Response.Body(); bytes.Contains(body, []byte("<esi:")) || !bytes.Contains(body, []byte(`$0.99`)) {
			t.Fatalf("%s: not assembled:\n%s", tc.uri, body)
		}
		if n := started.Load(); n != tc.frags {
			t.Fatalf("%s: %d refreshes started after 1000 pages, want still %d", tc.uri, n, tc.frags)
		}
	}
}
