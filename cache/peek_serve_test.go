package cache

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serveFixture is a cache over a versioned origin (body and ETag "v<N>",
// answering 304 to a matching If-None-Match) whose background refreshes
// run on their own goroutines, tracked so that a test can wait for them.
type serveFixture struct {
	c       *Cache
	p       *Policy
	o       *origin
	clock   *fakeClock
	version atomic.Int64
	// hold, when set, keeps the origin's answers until it is closed.
	hold    chan struct{}
	started atomic.Int64
	bg      sync.WaitGroup
}

func newServeFixture(t *testing.T) *serveFixture {
	t.Helper()
	f := &serveFixture{clock: newClock()}
	f.version.Store(1)
	f.o = newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if f.hold != nil {
			<-f.hold
		}
		etag := `"v` + itoa(f.version.Load()) + `"`
		if string(ctx.Request.Header.Peek("If-None-Match")) == etag {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.Response.Header.Set("ETag", etag)
		ctx.SetBodyString("price v" + itoa(f.version.Load()))
	})
	var err error
	f.c, err = New(Options{Now: f.clock.Now, Background: func(run func()) {
		f.started.Add(1)
		f.bg.Add(1)
		go func() { defer f.bg.Done(); run() }()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.c.Close)
	f.p, err = CompilePolicy(PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: 10 * time.Second,
		StaleIfError: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func itoa(n int64) string { return string(fasthttp.AppendUint(nil, int(n))) }

// settle waits for every background refresh and the store sets they made.
func (f *serveFixture) settle() {
	f.bg.Wait()
	f.c.Wait()
}

func (f *serveFixture) fill(t *testing.T, uri string) {
	t.Helper()
	var resp fasthttp.Response
	if _, err := f.c.Do(peekRequest("GET", uri), &resp, f.p, nil, f.o.fetch); err != nil {
		t.Fatalf("Do %s: %v", uri, err)
	}
	f.c.Wait()
}

// TestPeekServeWindows: fresh is a hit as with Peek; stale within
// stale_while_revalidate is served (STALE) and starts a refresh; past
// that window (even within stale_if_error) nothing is served or started.
func TestPeekServeWindows(t *testing.T) {
	cases := []struct {
		name      string
		advance   time.Duration
		wantOK    bool
		wantState State
		wantBG    int64
	}{
		{"fresh", 9 * time.Second, true, Hit, 0},
		{"stale within stale_while_revalidate", 15 * time.Second, true, Stale, 1},
		{"stale past stale_while_revalidate, within stale_if_error", 25 * time.Second, false, 0, 0},
		{"past every window", 2 * time.Minute, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newServeFixture(t)
			f.fill(t, "/price/1")
			f.clock.Advance(tc.advance)
			res, ok := f.c.PeekServe(peekRequest("GET", "/price/1"), f.p, nil, f.o.fetch)
			f.settle()
			if ok != tc.wantOK {
				t.Fatalf("PeekServe = %v, want %v", ok, tc.wantOK)
			}
			if ok && (res.State != tc.wantState || entryBody(res) != "price v1") {
				t.Fatalf("State %v body %q, want %v %q", res.State, entryBody(res), tc.wantState, "price v1")
			}
			if !ok && res.Entry != nil {
				t.Fatal("a false PeekServe returned an entry")
			}
			if n := f.started.Load(); n != tc.wantBG {
				t.Fatalf("%d background refreshes started, want %d", n, tc.wantBG)
			}
			if n := f.o.hits.Load(); n != 1+tc.wantBG {
				t.Fatalf("origin asked %d times, want %d (the fill, then %d refresh)", n, 1+tc.wantBG, tc.wantBG)
			}
			if n := f.c.flights.inFlight(); n != 0 {
				t.Fatalf("%d flights left open, want none", n)
			}
		})
	}
}

// TestPeekServeRefreshesOnce: 32 concurrent lookups of one stale entry
// all get it at once, and the origin sees exactly one conditional request;
// the next lookup is a fresh hit on what that request brought back, a new
// body (200) or the stored one made fresh (304).
func TestPeekServeRefreshesOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		changed  bool
		wantBody string
	}{{"origin changed: 200", true, "price v2"}, {"origin unchanged: 304", false, "price v1"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newServeFixture(t)
			f.fill(t, "/price/1")
			if tc.changed {
				f.version.Store(2)
			}
			f.hold = make(chan struct{}) // the refresh lands after every lookup
			f.clock.Advance(12 * time.Second)
			var wg sync.WaitGroup
			var stale atomic.Int64
			for range 32 {
				wg.Go(func() {
					res, ok := f.c.PeekServe(peekRequest("GET", "/price/1"), f.p, nil, f.o.fetch)
					if ok && res.State == Stale && entryBody(res) == "price v1" {
						stale.Add(1)
					}
				})
			}
			wg.Wait()
			close(f.hold)
			f.settle()
			if n := stale.Load(); n != 32 {
				t.Fatalf("%d of 32 lookups got the stale entry, want all", n)
			}
			if n := f.o.hits.Load(); n != 2 {
				t.Fatalf("origin asked %d times, want 2 (the fill and one refresh)", n)
			}
			if inm := f.o.lastHeader("If-None-Match"); inm != `"v1"` {
				t.Fatalf("refresh sent If-None-Match %q, want the stored \"v1\" (a conditional request)", inm)
			}
			res, ok := f.c.PeekServe(peekRequest("GET", "/price/1"), f.p, nil, f.o.fetch)
			if !ok || res.State != Hit || entryBody(res) != tc.wantBody {
				t.Fatalf("after the refresh: ok %v State %v body %q, want HIT %q", ok, res.State, entryBody(res), tc.wantBody)
			}
			if n := f.started.Load(); n != 1 {
				t.Fatalf("%d background refreshes started, want 1", n)
			}
		})
	}
}

// TestPeekServeSharesDoRefresh: Do and PeekServe start the same refresh:
// whichever sees the entry stale first starts it, the other does not.
func TestPeekServeSharesDoRefresh(t *testing.T) {
	for _, peekFirst := range []bool{true, false} {
		f := newServeFixture(t)
		f.fill(t, "/price/1")
		f.clock.Advance(12 * time.Second)
		f.hold = make(chan struct{}) // the refresh lands after both lookups
		peek := func() {
			if res, ok := f.c.PeekServe(peekRequest("GET", "/price/1"), f.p, nil, f.o.fetch); !ok || res.State != Stale {
				t.Fatalf("PeekServe: ok %v State %v, want STALE", ok, res.State)
			}
		}
		do := func() {
			var resp fasthttp.Response
			if res, err := f.c.Do(peekRequest("GET", "/price/1"), &resp, f.p, nil, f.o.fetch); err != nil || res.State != Stale {
				t.Fatalf("Do: State %v err %v, want STALE", res.State, err)
			}
		}
		if peekFirst {
			peek()
			do()
		} else {
			do()
			peek()
		}
		close(f.hold)
		f.settle()
		if n := f.started.Load(); n != 1 {
			t.Fatalf("peek first %v: %d refreshes started, want 1", peekFirst, n)
		}
		if n := f.o.hits.Load(); n != 2 {
			t.Fatalf("peek first %v: origin asked %d times, want 2", peekFirst, n)
		}
	}
}

// TestPeekServeNoEffect: what Peek refuses, PeekServe refuses too, with no
// fetch, refresh or flight; and a stale entry without a fetch is refused.
func TestPeekServeNoEffect(t *testing.T) {
	f := newServeFixture(t)
	f.fill(t, "/price/1")
	cases := []struct {
		name  string
		req   *fasthttp.Request
		p     *Policy
		fetch Fetch
	}{
		{"never stored", peekRequest("GET", "/price/2"), f.p, f.o.fetch},
		{"POST", peekRequest("POST", "/price/1"), f.p, f.o.fetch},
		{"Authorization", peekRequest("GET", "/price/1", "Authorization", "Bearer x"), f.p, f.o.fetch},
		{"nil policy", peekRequest("GET", "/price/1"), nil, f.o.fetch},
		{"stale, nil fetch", peekRequest("GET", "/price/1"), f.p, nil},
	}
	f.clock.Advance(12 * time.Second)
	for _, tc := range cases {
		if res, ok := f.c.PeekServe(tc.req, tc.p, nil, tc.fetch); ok || res.Entry != nil {
			t.Fatalf("%s: PeekServe = %v (entry %v), want false and nothing", tc.name, ok, res.Entry != nil)
		}
	}
	f.settle()
	if n, bg := f.o.hits.Load(), f.started.Load(); n != 1 || bg != 0 {
		t.Fatalf("origin asked %d times and %d refreshes started, want only the fill", n, bg)
	}
	if n := f.c.flights.inFlight(); n != 0 {
		t.Fatalf("%d flights left open, want none", n)
	}
}
