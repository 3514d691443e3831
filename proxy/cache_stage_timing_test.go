package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// page8K is the 8 KiB page of the cache-hit benchmark.
var page8K = []byte(strings.Repeat("<p>flash sale item, 40% off</p>\n", 8<<10/32))

// stagesOrigin serves page8K at /item/{id}, ESI pages of n cached
// fragments at /page/{n}, and fragments at /frag/{i}.
func stagesOrigin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case strings.HasPrefix(path, "/page/"):
		n, _ := strconv.Atoi(path[len("/page/"):])
		var b strings.Builder
		b.WriteString("<html><body><h1>Item</h1>\n")
		for i := range n {
			b.WriteString(`<div><esi:include src="/frag/` + strconv.Itoa(i) + `"/></div>` + "\n")
		}
		b.WriteString("</body></html>\n")
		ctx.Response.Header.Set("Surrogate-Control", `content="ESI/1.0"`)
		ctx.SetContentType("text/html")
		ctx.SetBodyString(b.String())
	case strings.HasPrefix(path, "/frag/"):
		ctx.SetContentType("text/html")
		ctx.SetBodyString(`<span class="price">$` + path[len("/frag/"):] + `.99</span>`)
	default:
		ctx.SetContentType("text/html")
		ctx.SetBody(page8K)
	}
}

const stagesRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: item
    path: /item/{id}
    origin: shop
    cache: {ttl: 1h}
  - name: page
    path: /page/{n}
    origin: shop
    cache: {ttl: 1h}
  - name: frag
    path: /frag/{i}
    origin: shop
    cache: {ttl: 1h}
`

// stagesServer is a Server on an in-memory origin serving stagesOrigin.
func stagesServer(tb testing.TB) *Server {
	dial := inMemoryOrigin(tb, stagesOrigin)
	s, err := New(Options{Config: loadYAML(tb, "origin:80", stagesRules), Dial: dial,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.env.Close)
	return s
}

// warmCtx returns a request context for uri after serving it until the
// cache answers it from memory.
func warmCtx(tb testing.TB, s *Server, uri string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetRequestURI(uri)
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "text/html")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:5000")), nil)
	h := s.Handler()
	for range 3 {
		ctx.Response.Reset()
		h(ctx)
		if ctx.Response.IsBodyStream() {
			// A page whose fragments missed streams them as they arrive:
			// read it all, as a client would, so every fill completes.
			io.Copy(io.Discard, ctx.Response.BodyStream()) //nolint:errcheck // warming only
		}
		s.env.Cache().Wait()
	}
	if x := string(ctx.Response.Header.Peek("X-Cache")); x != "HIT" || ctx.Response.StatusCode() != 200 {
		tb.Fatalf("%s: status %d X-Cache %q after warming, want 200 HIT", uri, ctx.Response.StatusCode(), x)
	}
	return ctx
}

// benchServer runs GETs of uri through the full server: client →
// in-memory listener → pipeline → cache → response.
func benchServer(b *testing.B, uri string, check func(*fasthttp.Response) bool) {
	s := stagesServer(b)
	warmCtx(b, s, uri)
	ln := newInmemoryListener(b, s)
	c := &fasthttp.HostClient{Addr: "gateway", MaxConns: 1024, Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://shop.example" + uri)
		for pb.Next() {
			if err := c.Do(req, resp); err != nil || !check(resp) {
				b.Fatalf("status %d X-Cache %q, err %v", resp.StatusCode(), resp.Header.Peek("X-Cache"), err)
			}
		}
	})
}

// BenchmarkServerCacheHit: an 8 KiB page from the cache through the full
// server (in-memory listener). Target: 0 allocs/op.
func BenchmarkServerCacheHit(b *testing.B) {
	b.SetBytes(int64(len(page8K)))
	benchServer(b, "/item/1", func(r *fasthttp.Response) bool {
		return r.StatusCode() == 200 && len(r.Body()) == len(page8K)
	})
}

// BenchmarkHandlerCacheHit is the cache hit without the connection: what
// the pipeline and the cache cost.
func BenchmarkHandlerCacheHit(b *testing.B) {
	s := stagesServer(b)
	ctx := warmCtx(b, s, "/item/1")
	h := s.Handler()
	b.SetBytes(int64(len(page8K)))
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}

// newInmemoryListener serves s on an in-memory listener until the
// benchmark ends.
func newInmemoryListener(tb testing.TB, s *Server) *fasthttputil.InmemoryListener {
	ln := fasthttputil.NewInmemoryListener()
	go s.Serve(ln) //nolint:errcheck // returns on shutdown
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln
}
