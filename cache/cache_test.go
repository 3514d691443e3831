package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestFreshnessTransitions walks one entry through MISS → HIT → STALE
// (background conditional refresh answered 304) → HIT → EXPIRED → MISS.
func TestFreshnessTransitions(t *testing.T) {
	o := newOrigin(t, nil)
	version := "v1"
	o.set(func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Request.Header.Peek("If-None-Match")) == `"`+version+`"` {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.Response.Header.Set("ETag", `"`+version+`"`)
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("page " + version)
	})
	g := newGateway(t, PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: 5 * time.Second,
		StaleIfError: 30 * time.Second}, o, Options{})
	steps := []struct {
		name       string
		advance    time.Duration
		wantXCache string
		wantBody   string
		wantAge    string
		wantOrigin int64
	}{
		{"first request misses", 0, "MISS", "page v1", "0", 1},
		{"second is a hit", 3 * time.Second, "HIT", "page v1", "3", 1},
		{"past ttl, within swr: stale, refreshed in background", 8 * time.Second, "STALE", "page v1", "11", 2},
		{"refresh (304) made it fresh again", time.Second, "HIT", "page v1", "1", 2},
		{"past swr, within sie: refetched synchronously", 16 * time.Second, "EXPIRED", "page v1", "0", 3},
		{"past every window: a plain miss", 50 * time.Second, "MISS", "page v1", "0", 4},
	}
	for _, s := range steps {
		g.clock.Advance(s.advance)
		r := g.get(t, "/item/1", nil)
		g.settle()
		if r.xcache != s.wantXCache || r.body != s.wantBody || r.age != s.wantAge || o.hits.Load() != s.wantOrigin {
			t.Fatalf("%s: got X-Cache %q body %q Age %q origin hits %d; want %q %q %q %d",
				s.name, r.xcache, r.body, r.age, o.hits.Load(), s.wantXCache, s.wantBody, s.wantAge, s.wantOrigin)
		}
	}
}

// TestBackgroundRevalidationReplacesChangedPage: the origin answers the
// conditional refresh with a new page (200), which replaces the entry.
func TestBackgroundRevalidationReplacesChangedPage(t *testing.T) {
	o := newOrigin(t, page("old", "ETag", `"1"`))
	g := newGateway(t, PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: time.Minute}, o, Options{})
	g.get(t, "/p", nil)
	o.set(page("new", "ETag", `"2"`))
	g.clock.Advance(11 * time.Second)
	if r := g.get(t, "/p", nil); r.xcache != "STALE" || r.body != "old" {
		t.Fatalf("stale request: got %q %q, want STALE old", r.xcache, r.body)
	}
	g.settle()
	if got := o.lastHeader("If-None-Match"); got != `"1"` {
		t.Fatalf("refresh sent If-None-Match %q, want the stored validator \"1\"", got)
	}
	if r := g.get(t, "/p", nil); r.xcache != "HIT" || r.body != "new" || r.etag != `"2"` {
		t.Fatalf("after refresh: got %q %q %q, want HIT new \"2\"", r.xcache, r.body, r.etag)
	}
	if o.hits.Load() != 2 {
		t.Fatalf("origin hits = %d, want 2 (one miss, one refresh)", o.hits.Load())
	}
}

// TestStaleRefreshedOnce: many requests during the stale window start one refresh.
func TestStaleRefreshedOnce(t *testing.T) {
	o := newOrigin(t, page("x", "Last-Modified", "Tue, 10 Nov 2026 00:00:00 GMT"))
	g := newGateway(t, PolicySpec{TTL: time.Second, StaleWhileRevalidate: time.Minute}, o, Options{})
	g.get(t, "/p", nil)
	g.clock.Advance(2 * time.Second)
	block := make(chan struct{})
	o.set(func(ctx *fasthttp.RequestCtx) { <-block; ctx.SetStatusCode(fasthttp.StatusNotModified) })
	for range 20 {
		if r := g.get(t, "/p", nil); r.xcache != "STALE" {
			t.Fatalf("X-Cache = %q, want STALE", r.xcache)
		}
	}
	close(block)
	g.settle()
	if o.hits.Load() != 2 {
		t.Fatalf("origin hits = %d, want 2: twenty stale requests must start one refresh", o.hits.Load())
	}
	if got := o.lastHeader("If-Modified-Since"); got != "Tue, 10 Nov 2026 00:00:00 GMT" {
		t.Fatalf("refresh If-Modified-Since = %q, want the stored Last-Modified", got)
	}
}

// TestOriginDown: within stale_if_error the old page stands in for a
// failed fetch or a 5xx; after it, the client gets a clear error.
func TestOriginDown(t *testing.T) {
	for _, failure := range []string{"connection refused", "503"} {
		t.Run(failure, func(t *testing.T) {
			o := newOrigin(t, page("good"))
			g := newGateway(t, PolicySpec{TTL: 10 * time.Second, StaleIfError: time.Minute}, o, Options{})
			g.get(t, "/p", nil)
			if failure == "503" {
				o.set(func(ctx *fasthttp.RequestCtx) { ctx.Error("overloaded", fasthttp.StatusServiceUnavailable) })
			} else {
				o.down.Store(true)
			}
			g.clock.Advance(30 * time.Second)
			if r := g.get(t, "/p", nil); r.status != 200 || r.xcache != "STALE" || r.body != "good" {
				t.Fatalf("within stale_if_error: got %d %q %q, want 200 STALE good", r.status, r.xcache, r.body)
			}
			g.clock.Advance(time.Minute)
			r := g.get(t, "/p", nil)
			want := map[string]int{"connection refused": 502, "503": 503}[failure]
			if r.status != want || r.body == "good" {
				t.Fatalf("after stale_if_error: got %d %q, want %d and no stale page", r.status, r.body, want)
			}
		})
	}
}

// TestErrorNamesTheCause: the error returned once no stale copy is left
// says what happened and wraps the fetch error.
func TestErrorNamesTheCause(t *testing.T) {
	o := newOrigin(t, page("x"))
	o.down.Store(true)
	c, err := New(Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, _ := CompilePolicy(PolicySpec{TTL: time.Second})
	req, resp := &fasthttp.Request{}, &fasthttp.Response{}
	req.SetRequestURI("http://shop.test/p")
	_, err = c.Do(req, resp, p, nil, o.fetch)
	if err == nil || !strings.Contains(err.Error(), "origin fetch failed, no stale copy to serve: dial origin: connection refused") {
		t.Fatalf("err = %v, want it to name the failed fetch and its cause", err)
	}
}
