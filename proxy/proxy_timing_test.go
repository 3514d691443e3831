package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// inMemoryOrigin serves h on an in-memory listener and returns a Dial for
// Options.Dial.
func inMemoryOrigin(b testing.TB, h fasthttp.RequestHandler) func(string) (net.Conn, error) {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck
	b.Cleanup(func() { _ = srv.Shutdown() })
	return func(string) (net.Conn, error) { return ln.Dial() }
}

var pageBody = make([]byte, 2048)

// BenchmarkPassThrough measures the full path: client → gateway (in-memory
// listener) → origin pool → origin (in-memory fasthttp) and back.
func BenchmarkPassThrough(b *testing.B) {
	dial := inMemoryOrigin(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html")
		ctx.SetBody(pageBody)
	})
	cfg := testConfig("origin:80", testRoute(b, "item", "/item/{id}", "shop"))
	g := newGateway(b, cfg, Options{Dial: dial, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c := g.client("203.0.113.7")
	c.MaxConns = 1024
	b.SetBytes(int64(len(pageBody)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://shop.example/item/42?ref=home")
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Cookie", "session=abc")
		for pb.Next() {
			if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("status %d, err %v", resp.StatusCode(), err)
			}
		}
	})
}

// BenchmarkEdgeReject measures a 404 at the edge through the listener.
func BenchmarkEdgeReject(b *testing.B) {
	cfg := testConfig("127.0.0.1:1", testRoute(b, "item", "/item/{id}", "shop"))
	g := newGateway(b, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c := g.client("203.0.113.7")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://shop.example/nowhere/at/all")
		for pb.Next() {
			if err := c.Do(req, resp); err != nil || resp.StatusCode() != 404 {
				b.Fatalf("status %d, err %v", resp.StatusCode(), err)
			}
		}
	})
}

// BenchmarkHandlerEdge measures the handler alone for an edge answer,
// without the connection: what the pipeline itself costs.
func BenchmarkHandlerEdge(b *testing.B) {
	h, ctx := edgeHandler(b)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}

// BenchmarkHandlerPassThrough measures the handler forwarding to an
// in-memory origin, without the client-side connection.
func BenchmarkHandlerPassThrough(b *testing.B) {
	h, ctx := passThroughHandler(b)
	b.SetBytes(int64(len(pageBody)))
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}

// passThroughHandler returns a Server's handler whose only origin is an
// in-memory fasthttp server, and a context holding a GET /item/42.
func passThroughHandler(tb testing.TB) (fasthttp.RequestHandler, *fasthttp.RequestCtx) {
	dial := inMemoryOrigin(tb, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html")
		ctx.SetBody(pageBody)
	})
	cfg := testConfig("origin:80", testRoute(tb, "item", "/item/{id}", "shop"))
	s, err := New(Options{Config: cfg, Dial: dial, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.env.Close)
	var req fasthttp.Request
	req.SetRequestURI("/item/42?ref=home")
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Cookie", "session=abc")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:5000")), nil)
	return s.Handler(), ctx
}

// edgeHandler returns a Server's handler and a request context holding a
// request for a path no route matches.
func edgeHandler(tb testing.TB) (fasthttp.RequestHandler, *fasthttp.RequestCtx) {
	cfg := testConfig("127.0.0.1:1", testRoute(tb, "item", "/item/{id}", "shop"))
	cfg.Server.TrustedProxies = mustPrefixes("10.0.0.0/8")
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return time.Unix(1, 0) }})
	if err != nil {
		tb.Fatal(err)
	}
	var req fasthttp.Request
	req.SetRequestURI("/nowhere/at/all?x=1")
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:5000")), nil)
	return s.Handler(), ctx
}
