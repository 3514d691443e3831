package cache

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// peekFixture is a cache over a counting origin with an injected clock and
// a background runner that counts what Do would have started.
type peekFixture struct {
	c     *Cache
	p     *Policy
	o     *origin
	clock *fakeClock
	bg    atomic.Int64
}

func newPeekFixture(t testing.TB) *peekFixture {
	t.Helper()
	f := &peekFixture{clock: newClock()}
	f.o = newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/personal":
			ctx.Response.Header.Set("Set-Cookie", "sid=abc")
		case "/lang":
			ctx.Response.Header.Set("Vary", "X-Lang")
			ctx.SetBodyString("page in " + string(ctx.Request.Header.Peek("X-Lang")))
			return
		}
		ctx.SetBodyString("page " + string(ctx.Path()))
	})
	var err error
	f.c, err = New(Options{Now: f.clock.Now, Background: func(func()) { f.bg.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.c.Close)
	f.p, err = CompilePolicy(PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: 10 * time.Second,
		StaleIfError: time.Minute, SessionCookies: []string{"sid"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func peekRequest(method, uri string, hdr ...string) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost("shop.test")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

// fill stores uri's answer with Do, as the request path would.
func (f *peekFixture) fill(t testing.TB, uri string, hdr ...string) {
	t.Helper()
	var resp fasthttp.Response
	if _, err := f.c.Do(peekRequest("GET", uri, hdr...), &resp, f.p, nil, f.o.fetch); err != nil {
		t.Fatalf("Do %s: %v", uri, err)
	}
	f.c.Wait()
}

// TestPeek: only a fresh entry is a hit; everything else is false, and
// no case ever reaches the origin, starts a refresh or joins a flight.
func TestPeek(t *testing.T) {
	f := newPeekFixture(t)
	f.fill(t, "/item/1")
	f.fill(t, "/personal") // uncacheable: remembered as hit-for-miss
	f.fill(t, "/lang", "X-Lang", "en")
	f.fill(t, "/purged")
	f.c.Purge(Purge{Kind: PurgeURL, Host: "shop.test", Path: "/purged"})
	f.fill(t, "/soft")
	f.c.Purge(Purge{Kind: PurgeURL, Host: "shop.test", Path: "/soft", Soft: true})
	originBefore := f.o.hits.Load()

	cases := []struct {
		name     string
		advance  time.Duration
		req      *fasthttp.Request
		wantHit  bool
		wantBody string
	}{
		{"fresh entry", 0, peekRequest("GET", "/item/1"), true, "page /item/1"},
		{"HEAD from the GET entry", 0, peekRequest("HEAD", "/item/1"), true, "page /item/1"},
		{"the stored Vary variant", 0, peekRequest("GET", "/lang", "X-Lang", "en"), true, "page in en"},
		{"another Vary variant", 0, peekRequest("GET", "/lang", "X-Lang", "de"), false, ""},
		{"never stored", 0, peekRequest("GET", "/item/2"), false, ""},
		{"hard-purged", 0, peekRequest("GET", "/purged"), false, ""},
		{"soft-purged (stale)", 0, peekRequest("GET", "/soft"), false, ""},
		{"remembered uncacheable", 0, peekRequest("GET", "/personal"), false, ""},
		{"POST", 0, peekRequest("POST", "/item/1"), false, ""},
		{"Authorization", 0, peekRequest("GET", "/item/1", "Authorization", "Bearer x"), false, ""},
		{"session cookie", 0, peekRequest("GET", "/item/1", "Cookie", "sid=u1"), false, ""},
		{"still fresh at 9s", 9 * time.Second, peekRequest("GET", "/item/1"), true, "page /item/1"},
		{"stale within stale_while_revalidate", 2 * time.Second, peekRequest("GET", "/item/1"), false, ""},
		{"stale within stale_if_error", 10 * time.Second, peekRequest("GET", "/item/1"), false, ""},
		{"past every window", time.Minute, peekRequest("GET", "/item/1"), false, ""},
	}
	for _, tc := range cases {
		f.clock.Advance(tc.advance)
		res, ok := f.c.Peek(tc.req, f.p)
		if ok != tc.wantHit {
			t.Fatalf("%s: Peek = %v, want %v", tc.name, ok, tc.wantHit)
		}
		if !ok {
			if res.Entry != nil {
				t.Fatalf("%s: a false Peek returned an entry", tc.name)
			}
			continue
		}
		if res.State != Hit || res.Entry == nil || string(res.Entry.Body()) != tc.wantBody {
			t.Fatalf("%s: State %v body %q, want HIT %q", tc.name, res.State, entryBody(res), tc.wantBody)
		}
	}
	if n := f.o.hits.Load() - originBefore; n != 0 {
		t.Fatalf("Peek reached the origin %d times, want never", n)
	}
	if n := f.bg.Load(); n != 0 {
		t.Fatalf("Peek started %d background refreshes, want none", n)
	}
	if n := f.c.flights.inFlight(); n != 0 {
		t.Fatalf("%d flights left open, want none", n)
	}
}

// TestPeekNilPolicy: a route without a cache never hits.
func TestPeekNilPolicy(t *testing.T) {
	f := newPeekFixture(t)
	f.fill(t, "/item/1")
	if _, ok := f.c.Peek(peekRequest("GET", "/item/1"), nil); ok {
		t.Fatal("Peek with a nil policy hit, want false")
	}
}

// TestPeekLeavesMissToDo: a Peek miss leaves nothing behind, so the Do
// that follows leads its own fetch (MISS) and a second Peek then hits.
func TestPeekLeavesMissToDo(t *testing.T) {
	f := newPeekFixture(t)
	req := peekRequest("GET", "/item/3")
	if _, ok := f.c.Peek(req, f.p); ok {
		t.Fatal("empty cache: Peek hit")
	}
	var resp fasthttp.Response
	res, err := f.c.Do(req, &resp, f.p, nil, f.o.fetch)
	if err != nil || res.State != Miss {
		t.Fatalf("Do after a Peek miss: state %v err %v, want MISS", res.State, err)
	}
	f.c.Wait()
	if res, ok := f.c.Peek(req, f.p); !ok || string(res.Entry.Body()) != "page /item/3" {
		t.Fatalf("Peek after the fill: ok %v body %q, want the stored page", ok, entryBody(res))
	}
	if n := f.o.hits.Load(); n != 1 {
		t.Fatalf("origin asked %d times, want 1", n)
	}
}

func entryBody(r Result) string {
	if r.Entry == nil {
		return ""
	}
	return string(r.Entry.Body())
}

// inFlight counts the keys with an open flight.
func (f *flights) inFlight() int {
	n := 0
	for i := range f.shards {
		s := &f.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
