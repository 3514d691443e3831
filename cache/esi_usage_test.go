package cache

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestSubRequestAndAttachment is how ESI uses the cache: fragments are
// looked up with a bare *fasthttp.Request (no RequestCtx), a parsed
// template is attached once at store time, kept across a 304 refresh, and
// the caller writes headers itself and assembles the body.
func TestSubRequestAndAttachment(t *testing.T) {
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("If-None-Match")) > 0 {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.Response.Header.Set("ETag", `"t1"`)
		ctx.Response.Header.Set("Surrogate-Control", `content="ESI/1.0"`)
		ctx.SetContentType("text/html")
		ctx.SetBodyString(`<p><esi:include src="/price"/></p>`)
	})
	clock := newClock()
	var parsed atomic.Int64
	c, err := New(Options{Now: clock.Now, Background: func(f func()) { f() },
		OnStore: func(e *Entry) {
			parsed.Add(1)
			if e.SurrogateESI() {
				e.SetAttachment(strings.Count(string(e.Body()), "<esi:include"))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, _ := CompilePolicy(PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: time.Minute})
	fetch := Fetch(o.fetch)
	lookup := func() Result {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://shop.test/item/1")
		res, err := c.Do(req, resp, p, nil, fetch)
		if err != nil || res.Entry == nil {
			t.Fatalf("Do: %v, entry %v", err, res.Entry)
		}
		c.Wait()
		return res
	}
	steps := []struct {
		advance time.Duration
		state   State
	}{{0, Miss}, {time.Second, Hit}, {10 * time.Second, Stale}, {time.Second, Hit}}
	for i, s := range steps {
		clock.Advance(s.advance)
		res := lookup()
		if res.State != s.state || res.Entry.Attachment() != 1 {
			t.Fatalf("step %d: state %v attachment %v, want %v and 1 include", i, res.State, res.Entry.Attachment(), s.state)
		}
	}
	if parsed.Load() != 1 || o.hits.Load() != 2 {
		t.Fatalf("OnStore ran %d times over %d origin requests; want once (the 304 refresh keeps the attachment), 2",
			parsed.Load(), o.hits.Load())
	}
	res := lookup()
	var resp fasthttp.Response
	e := res.WriteHeader(&resp)
	resp.SetBodyString("assembled")
	if e == nil || resp.StatusCode() != 200 || string(resp.Header.ContentType()) != "text/html" ||
		string(resp.Header.Peek("X-Cache")) != "HIT" || len(resp.Header.Peek("ETag")) != 0 ||
		len(resp.Header.Peek("Surrogate-Control")) != 0 || string(resp.Body()) != "assembled" {
		t.Fatalf("WriteHeader gave:\n%s", resp.String())
	}
}

// TestMetrics: the exposed set counts hits, misses, stale answers and purges.
func TestMetrics(t *testing.T) {
	o := newOrigin(t, page("x"))
	g := newGateway(t, PolicySpec{TTL: time.Second, StaleWhileRevalidate: time.Minute}, o, Options{})
	g.get(t, "/a", nil)
	g.get(t, "/a", nil)
	g.clock.Advance(2 * time.Second)
	g.get(t, "/a", nil)
	g.settle()
	g.c.Purge(Purge{Kind: PurgeURL, Host: "shop.test", Path: "/a"})
	var b strings.Builder
	g.c.Metrics().WritePrometheus(&b)
	for _, want := range []string{
		`flashgate_cache_requests_total{result="hit"} 1`,
		`flashgate_cache_requests_total{result="miss"} 1`,
		`flashgate_cache_requests_total{result="stale"} 1`,
		`flashgate_cache_revalidations_total{result="replaced"} 1`,
		`flashgate_cache_purges_total 1`,
		`flashgate_cache_purged_entries_total 1`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// TestESIFlagOnPassThrough: an uncacheable ESI page still tells the caller
// it is a template, and the Surrogate-Control header is not passed on.
func TestESIFlagOnPassThrough(t *testing.T) {
	o := newOrigin(t, page("<esi:include src=/cart />", "Surrogate-Control", `content="ESI/1.0"`,
		"Cache-Control", "private"))
	c, err := New(Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, _ := CompilePolicy(PolicySpec{TTL: time.Minute})
	var req fasthttp.Request
	var resp fasthttp.Response
	req.SetRequestURI("http://shop.test/cart")
	res, err := c.Do(&req, &resp, p, nil, o.fetch)
	if err != nil || res.Entry != nil || !res.ESI || len(resp.Header.Peek("Surrogate-Control")) != 0 {
		t.Fatalf("got entry %v ESI %v err %v Surrogate-Control %q; want a pass-through marked ESI, header consumed",
			res.Entry, res.ESI, err, resp.Header.Peek("Surrogate-Control"))
	}
}

// TestEntriesSurviveReload: a reload compiles new policies; entries stored
// under the old one keep serving when the key settings did not change.
func TestEntriesSurviveReload(t *testing.T) {
	o := newOrigin(t, page("x"))
	g := newGateway(t, PolicySpec{TTL: time.Minute, Key: KeySpec{QueryParams: []string{"sku"}}}, o, Options{})
	g.get(t, "/item/1?sku=3", nil)
	p, err := CompilePolicy(PolicySpec{TTL: 2 * time.Minute, StaleIfError: time.Hour, Key: KeySpec{QueryParams: []string{"sku"}}})
	if err != nil {
		t.Fatal(err)
	}
	g.p = p // what a reload does: a new *Policy, same Cache
	if r := g.get(t, "/item/1?sku=3", nil); r.xcache != "HIT" || o.hits.Load() != 1 {
		t.Fatalf("after reload: X-Cache %q origin hits %d, want HIT 1", r.xcache, o.hits.Load())
	}
}

// TestServeOutbound: the proxy's way in. The key is the outbound request
// (rewritten Host), the answer follows the client's request (encoding).
func TestServeOutbound(t *testing.T) {
	o := newOrigin(t, page(strings.Repeat("<p>outbound</p>", 64)))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	srvFetch := Fetch(o.fetch)
	handler := func(ctx *fasthttp.RequestCtx) {
		var out fasthttp.Request
		ctx.Request.CopyTo(&out)
		out.Header.SetHost("origin.internal")
		out.Header.Del("Accept-Encoding")
		if _, err := g.c.ServeOutbound(ctx, &out, g.p, nil, srvFetch); err != nil {
			ctx.Error("bad gateway", fasthttp.StatusBadGateway)
		}
	}
	get := func(ae string) (string, string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/p")
		ctx.Request.Header.SetHost("shop.test")
		ctx.Request.Header.Set("Accept-Encoding", ae)
		handler(&ctx)
		g.c.Wait()
		return string(ctx.Response.Header.Peek("X-Cache")), string(ctx.Response.Header.ContentEncoding())
	}
	if x, enc := get("gzip"); x != "MISS" || enc != "gzip" {
		t.Fatalf("first: %q %q, want MISS gzip", x, enc)
	}
	if x, enc := get("br"); x != "HIT" || enc != "br" {
		t.Fatalf("second: %q %q, want HIT br", x, enc)
	}
	if o.lastHeader("Host") != "origin.internal" {
		t.Fatalf("origin saw Host %q, want the outbound one", o.lastHeader("Host"))
	}
	if n := g.c.Purge(Purge{Kind: PurgeURL, Host: "origin.internal", Path: "/p"}); n != 1 {
		t.Fatalf("purge by the outbound host touched %d entries, want 1", n)
	}
}
