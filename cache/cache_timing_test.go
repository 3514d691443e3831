package cache

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// hitFixture is a cache holding one 8 KiB page, a gateway handler over it,
// and a request for that page.
type hitFixture struct {
	c       *Cache
	p       *Policy
	handler fasthttp.RequestHandler
}

var page8K = "<!doctype html><title>item</title>" + strings.Repeat("<p>flash sale item 42</p>\n", 8192/26)

func newHitFixture(tb testing.TB) *hitFixture {
	tb.Helper()
	return newHitFixtureKey(tb, KeySpec{QueryParams: []string{"sku"}})
}

func newHitFixtureKey(tb testing.TB, key KeySpec) *hitFixture {
	tb.Helper()
	o := newOrigin(tb, page(page8K, "ETag", `"v1"`, "Cache-Control", "public, max-age=60"))
	c, err := New(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	p, err := CompilePolicy(PolicySpec{TTL: time.Hour, CDNCacheControl: "public, s-maxage=60, max-age=10",
		Key: key, SessionCookies: []string{"sid"}})
	if err != nil {
		tb.Fatal(err)
	}
	f := &hitFixture{c: c, p: p}
	fetch := Fetch(o.fetch) // bound once: a method value per request would allocate
	f.handler = func(ctx *fasthttp.RequestCtx) {
		if _, err := c.Serve(ctx, p, nil, fetch); err != nil {
			ctx.Error("origin unavailable", fasthttp.StatusBadGateway)
		}
	}
	// Warm: store the page and make sure the store kept it.
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/item/42?sku=7&utm=x")
	ctx.Request.Header.SetHost("shop.test")
	f.handler(&ctx)
	c.Wait()
	ctx.Response.Reset()
	f.handler(&ctx)
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
		tb.Fatalf("warm-up: X-Cache %q, want HIT", got)
	}
	return f
}

const hitRequest = "GET /item/42?sku=7&utm=x HTTP/1.1\r\nHost: shop.test\r\nAccept-Encoding: identity\r\n\r\n"

var hitRequestBytes = []byte(hitRequest)

// BenchmarkCacheHit: the full server path (fasthttp server, in-memory
// listener, keep-alive) answering an 8 KiB cached page.
func BenchmarkCacheHit(b *testing.B) {
	f := newHitFixture(b)
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: f.handler, NoDefaultServerHeader: true, NoDefaultContentType: true}
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	defer ln.Close()
	b.SetBytes(int64(len(page8K)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := ln.Dial()
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		br := bufio.NewReaderSize(conn, 16<<10)
		var resp fasthttp.Response
		for pb.Next() {
			if _, err := conn.Write(hitRequestBytes); err != nil {
				b.Error(err)
				return
			}
			if err := resp.Read(br); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 || len(resp.Body()) != len(page8K) {
				b.Errorf("got %d with %d bytes", resp.StatusCode(), len(resp.Body()))
				return
			}
		}
	})
}

// BenchmarkCacheHitHandler: the handler alone on a reused RequestCtx, the
// cost the cache adds to a request.
func BenchmarkCacheHitHandler(b *testing.B) {
	f := newHitFixture(b)
	for _, ae := range []string{"identity", "gzip, deflate, br"} {
		b.Run("accept-encoding="+ae, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI("/item/42?sku=7&utm=x")
			ctx.Request.Header.SetHost("shop.test")
			ctx.Request.Header.Set("Accept-Encoding", ae)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				f.handler(&ctx)
			}
		})
	}
}

// BenchmarkBareServer is the reference the cache hit is compared with: a
// fasthttp server returning the same 8 KiB from memory.
func BenchmarkBareServer(b *testing.B) {
	body := []byte(page8K)
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{NoDefaultServerHeader: true, Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.Response.SetBodyRaw(body)
	}}
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	defer ln.Close()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		conn, _ := ln.Dial()
		defer conn.Close()
		br := bufio.NewReaderSize(conn, 16<<10)
		var resp fasthttp.Response
		for pb.Next() {
			conn.Write(hitRequestBytes) //nolint:errcheck // checked by Read
			if err := resp.Read(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
