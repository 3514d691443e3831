package cache

import (
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/valyala/fasthttp"
)

// TestHundredConcurrentMissesOneOriginRequest: 100 clients ask for the
// same cold page at once; the origin sees exactly one request and every
// client gets the page.
func TestHundredConcurrentMissesOneOriginRequest(t *testing.T) {
	release := make(chan struct{})
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		<-release
		ctx.SetBodyString("hot item")
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	const n = 100
	var wg sync.WaitGroup
	replies := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); replies[i] = g.get(t, "/item/42", nil) }()
	}
	// Hold the origin until all 99 followers queue behind the leader.
	for g.c.m.coalesced.Get() < n-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if o.hits.Load() != 1 {
		t.Fatalf("origin hits = %d, want exactly 1 for %d concurrent misses", o.hits.Load(), n)
	}
	for i, r := range replies {
		if r.status != 200 || r.body != "hot item" || r.xcache != "MISS" {
			t.Fatalf("client %d: got %d %q %q, want 200 hot item MISS", i, r.status, r.body, r.xcache)
		}
	}
}

// TestWaitersRefetchUncacheable: when the shared answer turns out personal,
// each waiter fetches its own instead of receiving the leader's.
func TestWaitersRefetchUncacheable(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	served := 0
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		served++
		first := served == 1
		mu.Unlock()
		if first {
			<-release
		}
		ctx.Response.Header.Set("Set-Cookie", "sid="+string(ctx.Request.Header.Peek("X-User")))
		ctx.SetBodyString("page for " + string(ctx.Request.Header.Peek("X-User")))
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{HitForMiss: -1})
	const n = 10
	var wg sync.WaitGroup
	replies := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := string(rune('a' + i))
			replies[i] = g.get(t, "/me", func(r *fasthttp.Request) { r.Header.Set("X-User", user) })
		}()
	}
	for g.c.m.coalesced.Get() < n-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, r := range replies {
		if want := "page for " + string(rune('a'+i)); r.body != want {
			t.Fatalf("client %d got %q, want %q: a personal response was shared", i, r.body, want)
		}
	}
}

// TestWaitBounded: a follower gives up after the coalesce timeout.
func TestWaitBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f flights
		f.init()
		leader, isLeader := f.join(7)
		follower, isLeader2 := f.join(7)
		if !isLeader || isLeader2 || leader != follower {
			t.Fatalf("join: want one leader and one follower of the same call")
		}
		start := time.Now()
		if follower.wait(3 * time.Second) {
			t.Fatalf("wait returned true before the leader finished")
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Fatalf("waited %s, want exactly the 3s bound", waited)
		}
		done := make(chan bool)
		go func() { done <- follower.wait(time.Hour) }()
		synctest.Wait()
		f.finish(7, leader)
		if !<-done {
			t.Fatalf("wait after finish returned false, want true")
		}
		if _, lead := f.join(7); !lead {
			t.Fatalf("after finish a new request must lead a new fetch")
		}
	})
}

// TestFailureSharedWithWaiters: a 5xx is never stored, but the waiters of
// the one fetch that got it share it instead of each hitting the failing
// origin again.
func TestFailureSharedWithWaiters(t *testing.T) {
	release := make(chan struct{})
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		<-release
		ctx.Error("overloaded", fasthttp.StatusServiceUnavailable)
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	const n = 20
	var wg sync.WaitGroup
	replies := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); replies[i] = g.get(t, "/item/9", nil) }()
	}
	for g.c.m.coalesced.Get() < n-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, r := range replies {
		if r.status != 503 || r.body != "overloaded" {
			t.Fatalf("client %d: got %d %q, want the shared 503", i, r.status, r.body)
		}
	}
	if o.hits.Load() != 1 {
		t.Fatalf("origin hits = %d, want 1", o.hits.Load())
	}
	o.set(page("ok"))
	if r := g.get(t, "/item/9", nil); r.status != 200 || r.xcache != "MISS" {
		t.Fatalf("after the failure: got %d %q, want a fresh MISS (a 5xx is never stored)", r.status, r.xcache)
	}
}
