package proxy

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// blockingOrigin serves a cached ESI shell whose fragments block at the
// origin: /cf/a and /cf/b until release is closed, /cf/never and /cf/gone
// until the test ends. It reports each fragment request on arrived and counts the
// requests in flight.
type blockingOrigin struct {
	*countingOrigin
	arrived  chan string
	release  chan struct{}
	never    chan struct{}
	inflight atomic.Int32
	once     sync.Once
}

// releaseAll lets every held request answer (at the end of the test, so
// that a failing test ends instead of leaving handlers blocked).
func (o *blockingOrigin) releaseAll() {
	o.once.Do(func() { close(o.release) })
	close(o.never)
}

// Every include has onerror="continue", so no include can fail the page
// and its head leaves at once (see TestESIHoldsHeadForFatalIncludes).
const parallelShell = `HEAD|<esi:include src="/cf/a" onerror="continue"/>|<esi:include src="/cf/b" onerror="continue"/>|<esi:include src="/cf/never" alt="/cf/alt" onerror="continue"/>|<esi:include src="/cf/gone" onerror="continue"/>|TAIL`

func newBlockingOrigin() *blockingOrigin {
	o := &blockingOrigin{arrived: make(chan string, 16), release: make(chan struct{}), never: make(chan struct{})}
	o.countingOrigin = newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		h.Set("Cache-Control", "public, s-maxage=60")
		var wait chan struct{}
		switch p := string(ctx.Path()); p {
		case "/sp/1":
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetBodyString(parallelShell)
			return
		case "/sp/user":
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetBodyString(`HEAD|<esi:include src="/cf/a" onerror="continue"/>|TAIL`)
			return
		case "/sp/held":
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetBodyString(`HEAD|<esi:include src="/cf/a"/>|<esi:include src="/cf/gone" onerror="continue"/>|TAIL`)
			return
		case "/sp/fails":
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetBodyString(`HEAD|<esi:include src="/cf/gone" onerror="continue"/>|<esi:include src="/cf/never"/>|TAIL`)
			return
		case "/cf/alt":
			ctx.SetBodyString("ALT")
			return
		case "/cf/a", "/cf/b":
			wait = o.release
		case "/cf/never", "/cf/gone":
			wait = o.never
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		o.inflight.Add(1)
		defer o.inflight.Add(-1)
		o.arrived <- string(ctx.Path())
		<-wait
		ctx.SetBodyString(strings.ToUpper(strings.TrimPrefix(string(ctx.Path()), "/cf/")))
		if uid := ctx.Request.Header.Cookie("uid"); len(uid) > 0 {
			ctx.Response.AppendBodyString(" for " + string(uid))
		}
	})
	return o
}

const parallelRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: page
    path: /sp/{id}
    origin: shop
    cache: {ttl: 1m}
    esi: {fragment_timeout: 300ms, page_timeout: 5s, forward_cookies: [uid]}
  - name: frag
    path: /cf/{name}
    origin: shop
    timeout: 10s
    cache: {ttl: 1m, session_cookies: [uid]}
`

// streamed is a page read by a streaming client: chunks as they arrive,
// then the whole body or the read error.
type streamed struct {
	chunks chan []byte
	done   chan error
	mu     sync.Mutex
	body   bytes.Buffer
}

func getStreamed(t *testing.T, g *gateway, uri string, hdr ...string) (*fasthttp.Response, *streamed) {
	t.Helper()
	resp, s, err := startStreamed(t, g, uri, hdr...)
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	return resp, s
}

// startStreamed is getStreamed for a goroutine other than the test's: it
// returns the request's error instead of failing the test.
func startStreamed(t *testing.T, g *gateway, uri string, hdr ...string) (*fasthttp.Response, *streamed, error) {
	c := g.client("203.0.113.7")
	c.StreamResponseBody = true
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(uri)
	req.Header.SetHost("shop.example")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp := &fasthttp.Response{}
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		return nil, nil, err
	}
	s := &streamed{chunks: make(chan []byte, 64), done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := resp.BodyStream().Read(buf)
			if n > 0 {
				s.mu.Lock()
				s.body.Write(buf[:n])
				s.mu.Unlock()
				s.chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				s.done <- err
				return
			}
		}
	}()
	t.Cleanup(func() { resp.CloseBodyStream() }) //nolint:errcheck // test cleanup
	return resp, s, nil
}

func (s *streamed) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body.String()
}

// within fails the test unless ch yields within d (a guard against a
// hang, never a wait for something to happen by itself).
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing after %v", what, d)
		panic("unreachable")
	}
}

// TestESIFragmentsMissInParallel: four fragments of cached routes that
// all miss are fetched at the same time (all four are held at the origin
// together), the shell's head leaves while they are held, and the two that
// never answer end at fragment_timeout (300ms): one is replaced by its alt,
// the other dropped (onerror="continue"), and the page ends long before
// page_timeout (5s). A second page reuses the two fills and joins the
// still running fetches of the others instead of asking the origin again.
func TestESIFragmentsMissInParallel(t *testing.T) {
	o := newBlockingOrigin()
	addr := startOrigin(t, o.handle)
	t.Cleanup(o.releaseAll) // runs before the origin shuts down
	g := cachedGateway(t, loadYAML(t, addr, parallelRules), newFakeClock())

	start := time.Now()
	resp, page := getStreamed(t, g, "/sp/1")
	seen := map[string]bool{}
	for range 4 {
		seen[within(t, o.arrived, 5*time.Second, "fragment fetches in flight together")] = true
	}
	if n := o.inflight.Load(); n != 4 || len(seen) != 4 {
		t.Fatalf("origin holds %d fragment requests (%v), want /cf/a, /cf/b, /cf/never and /cf/gone at once", n, seen)
	}
	if head := within(t, page.chunks, 5*time.Second, "the shell's head"); !bytes.HasPrefix(head, []byte("HEAD|")) {
		t.Fatalf("first bytes %q, want the shell's head before any fragment", head)
	}
	o.once.Do(func() { close(o.release) })
	if err := within(t, page.done, 10*time.Second, "the page's end"); err != nil {
		t.Fatalf("page cut: %v (body so far %q)", err, page.String())
	}
	elapsed := time.Since(start)
	if got, want := page.String(), "HEAD|A|B|ALT||TAIL"; got != want {
		t.Fatalf("body %q, want %q (the fragments that never answered replaced by the alt, dropped)", got, want)
	}
	if cc := string(resp.Header.Peek("Cache-Control")); cc != "private, no-store" {
		t.Fatalf("streamed page Cache-Control %q, want private, no-store", cc)
	}
	if elapsed >= 5*time.Second || o.inflight.Load() != 2 {
		t.Fatalf("page took %v with %d origin requests still held; want it ended by the fragment timeout, /cf/never and /cf/gone still held",
			elapsed, o.inflight.Load())
	}
	g.env.Cache().Wait()

	_, page2 := getStreamed(t, g, "/sp/1")
	if err := within(t, page2.done, 10*time.Second, "the second page's end"); err != nil {
		t.Fatalf("second page cut: %v", err)
	}
	if got, want := page2.String(), "HEAD|A|B|ALT||TAIL"; got != want {
		t.Fatalf("second page %q, want %q", got, want)
	}
	for path, want := range map[string]int{"/sp/1": 1, "/cf/a": 1, "/cf/b": 1, "/cf/never": 1, "/cf/gone": 1, "/cf/alt": 1} {
		if n := o.count(path); n != want {
			t.Fatalf("origin asked for %s %d times, want %d (fills cached, the held fetch shared)", path, n, want)
		}
	}
}

// TestESIPerUserFragmentOffRequestGoroutine: a per-user fragment (the
// page forwards the uid cookie, a session cookie of the fragment's cached
// route) is never looked for in the cache's shared entries nor fetched on
// the page's goroutine: the shell's head leaves while the origin holds it,
// and each user gets their own.
func TestESIPerUserFragmentOffRequestGoroutine(t *testing.T) {
	o := newBlockingOrigin()
	addr := startOrigin(t, o.handle)
	t.Cleanup(o.releaseAll)
	g := cachedGateway(t, loadYAML(t, addr, parallelRules), newFakeClock())

	resp, page := getStreamed(t, g, "/sp/user", "Cookie", "uid=alice")
	within(t, o.arrived, 5*time.Second, "the per-user fragment's fetch")
	if head := within(t, page.chunks, 5*time.Second, "the shell's head"); !bytes.HasPrefix(head, []byte("HEAD|")) {
		t.Fatalf("first bytes %q, want the shell's head while the fragment is held", head)
	}
	o.once.Do(func() { close(o.release) })
	if err := within(t, page.done, 10*time.Second, "the page's end"); err != nil {
		t.Fatalf("page cut: %v", err)
	}
	if got, want := page.String(), "HEAD|A for alice|TAIL"; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
	if cc := string(resp.Header.Peek("Cache-Control")); cc != "private, no-store" {
		t.Fatalf("Cache-Control %q, want private, no-store", cc)
	}
	g.env.Cache().Wait()
	_, page2 := getStreamed(t, g, "/sp/user", "Cookie", "uid=bob")
	within(t, o.arrived, 5*time.Second, "bob's fragment fetch")
	if err := within(t, page2.done, 10*time.Second, "bob's page's end"); err != nil {
		t.Fatalf("bob's page cut: %v", err)
	}
	if got, want := page2.String(), "HEAD|A for bob|TAIL"; got != want {
		t.Fatalf("bob got %q, want %q (never alice's fragment)", got, want)
	}
	if n := o.count("/cf/a"); n != 2 {
		t.Fatalf("per-user fragment fetched %d times, want 2 (one per user, never cached)", n)
	}
}

// TestESIHoldsHeadForFatalIncludes: a streamed page (buffer: false) whose
// include can fail it sends nothing, not even its head, until that
// include is in; then it streams the rest while a fragment with a
// fallback is still pending. If the fatal include fails (here: it never
// answers, fragment_timeout), the client gets a 502 page, not a cut 200.
func TestESIHoldsHeadForFatalIncludes(t *testing.T) {
	o := newBlockingOrigin()
	addr := startOrigin(t, o.handle)
	t.Cleanup(o.releaseAll)
	g := cachedGateway(t, loadYAML(t, addr, parallelRules), newFakeClock())

	type answer struct {
		resp *fasthttp.Response
		page *streamed
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, page, err := startStreamed(t, g, "/sp/held")
		answered <- answer{resp, page, err}
	}()
	for range 2 {
		within(t, o.arrived, 5*time.Second, "fragment fetches")
	}
	select {
	case <-answered:
		t.Fatal("the page's head was sent while its fatal include /cf/a was pending")
	default:
	}
	o.once.Do(func() { close(o.release) })
	a := within(t, answered, 10*time.Second, "the page's head")
	if a.err != nil || a.resp.StatusCode() != 200 {
		t.Fatalf("GET /sp/held: %v, want a 200", a.err)
	}
	if head := within(t, a.page.chunks, 5*time.Second, "the first bytes"); !bytes.HasPrefix(head, []byte("HEAD|A|")) {
		t.Fatalf("first bytes %q, want the head and the fatal include together", head)
	}
	if err := within(t, a.page.done, 10*time.Second, "the page's end"); err != nil || a.page.String() != "HEAD|A||TAIL" {
		t.Fatalf("page %q, %v; want HEAD|A||TAIL (the pending fallback dropped at fragment_timeout)", a.page.String(), err)
	}

	resp := g.get(t, "/sp/fails")
	if body := string(resp.Body()); resp.StatusCode() != 502 || strings.Contains(body, "HEAD") || !strings.Contains(body, "ESI include failed") {
		t.Fatalf("failed fatal include: %d %q, want a 502 page", resp.StatusCode(), body)
	}
}
