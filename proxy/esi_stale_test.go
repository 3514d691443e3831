package proxy

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// staleOrigin serves a cached ESI shell of three shared fragments, each
// answering "<name>v<version>". While held, fragment requests report on
// arrived and wait for release: a refresh then cannot finish before the
// test says so.
type staleOrigin struct {
	*countingOrigin
	version  atomic.Int64
	held     atomic.Bool
	arrived  chan string
	release  chan struct{}
	released sync.Once
}

func newStaleOrigin() *staleOrigin {
	o := &staleOrigin{arrived: make(chan string, 16), release: make(chan struct{})}
	o.version.Store(1)
	o.countingOrigin = newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		path := string(ctx.Path())
		if path == "/stale/page" {
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			h.Set("Cache-Control", "public, s-maxage=60, max-age=10")
			ctx.SetBodyString(`[<esi:include src="/sfrag/a"/>|<esi:include src="/sfrag/b"/>|<esi:include src="/sfrag/c"/>]`)
			return
		}
		if o.held.Load() {
			o.arrived <- path
			<-o.release
		}
		h.Set("Cache-Control", "public, s-maxage=10")
		ctx.SetBodyString(strings.TrimPrefix(path, "/sfrag/") + "v" + string(fasthttp.AppendUint(nil, int(o.version.Load()))))
	})
	return o
}

func (o *staleOrigin) releaseAll() { o.released.Do(func() { close(o.release) }) }

const staleRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: page
    path: /stale/page
    origin: shop
    cache: {ttl: 1m}
    esi: {fragment_timeout: 2s, page_timeout: 5s}
  - name: frag
    path: /sfrag/{name}
    origin: shop
    timeout: 10s
    cache: {ttl: 10s, stale_while_revalidate: 30s}
`

// TestESIStaleFragmentsFastPath: when the three cached fragments of a page
// turn stale within stale_while_revalidate, pages are still assembled on
// the request goroutine (fast path, not streamed) from the stale bodies,
// with a shareable Cache-Control whose lifetimes are 0 (never private);
// each fragment is refreshed once, in the background, while the pages are
// answered; and the page after the refreshes has the new bodies and the
// fragments' lifetime again.
func TestESIStaleFragmentsFastPath(t *testing.T) {
	o := newStaleOrigin()
	addr := startOrigin(t, o.handle)
	t.Cleanup(o.releaseAll)
	clock := newFakeClock()
	var refreshes sync.WaitGroup
	g := newGateway(t, loadYAML(t, addr, staleRules), Options{Now: clock.Now, cacheBackground: func(f func()) {
		refreshes.Add(1)
		go func() { defer refreshes.Done(); f() }()
	}})

	page := func(what, wantBody, wantCC string) {
		t.Helper()
		resp := g.get(t, "/stale/page")
		if got := string(resp.Body()); got != wantBody {
			t.Fatalf("%s: body %q, want %q", what, got, wantBody)
		}
		if cc := string(resp.Header.Peek("Cache-Control")); cc != wantCC {
			t.Fatalf("%s: Cache-Control %q, want %q", what, cc, wantCC)
		}
	}
	page("first page (fragments miss: streamed)", "[av1|bv1|cv1]", "private, no-store")
	page("fresh fragments", "[av1|bv1|cv1]", "public, s-maxage=10, max-age=10")

	clock.Advance(15 * time.Second) // fragments stale within swr (10s+30s), the shell fresh (1m)
	o.version.Store(2)
	o.held.Store(true)
	for i := range 3 {
		page("stale fragments, page "+string(rune('1'+i)), "[av1|bv1|cv1]", "public, s-maxage=0, max-age=0")
	}
	seen := map[string]bool{}
	for range 3 {
		seen[within(t, o.arrived, 5*time.Second, "the fragments' background refreshes")] = true
	}
	if len(seen) != 3 {
		t.Fatalf("refreshes held at the origin: %v, want /sfrag/a, /sfrag/b and /sfrag/c", seen)
	}
	o.releaseAll()
	refreshes.Wait()
	g.env.Cache().Wait()

	page("after the refreshes", "[av2|bv2|cv2]", "public, s-maxage=10, max-age=10")
	for _, path := range []string{"/sfrag/a", "/sfrag/b", "/sfrag/c"} {
		if n := o.count(path); n != 2 {
			t.Fatalf("origin asked for %s %d times, want 2 (the fill and one refresh)", path, n)
		}
	}
	if n := o.count("/stale/page"); n != 1 {
		t.Fatalf("shell fetched %d times, want 1", n)
	}
	for _, want := range []string{`flashgate_esi_pages_total{path="fast"} 5`, `flashgate_esi_pages_total{path="streamed"} 1`} {
		if !strings.Contains(g.metricsText(), want) {
			t.Fatalf("metrics lack %s (stale fragments must stay on the fast path):\n%s", want, g.metricsText())
		}
	}
}
