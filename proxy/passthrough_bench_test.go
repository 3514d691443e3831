package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
)

// The pass-through rows of bench/ as handler benchmarks over a loopback TCP
// origin, so that the origin client's socket work (deadlines, reads, writes)
// is the real one: the in-memory pipe of BenchmarkHandlerPassThrough has
// its own deadline timers. Run under callgrind they count the instructions
// a forwarded request costs in user space (bench/RESULTS.md).

var (
	itemPage = make([]byte, 8<<10) // the bench origin's item page is 8 KiB
	buyJSON  = []byte(`{"ok":true,"item":1,"qty":1}`)
)

// tcpPassThroughHandler returns a Server's handler forwarding to a loopback
// origin, and a context holding a GET of the item page or, with post, the
// purchase form POST of bench/peers/post.lua.
func tcpPassThroughHandler(tb testing.TB, post bool) (fasthttp.RequestHandler, *fasthttp.RequestCtx) {
	addr := startOrigin(tb, func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			ctx.SetContentType("application/json")
			ctx.SetBody(buyJSON)
			return
		}
		ctx.SetContentType("text/html")
		ctx.SetBody(itemPage)
	})
	cfg := testConfig(addr, testRoute(tb, "pass", "/pass/item/{id}", "shop", "GET", "HEAD"),
		testRoute(tb, "buy", "/pass/buy/{id}", "shop", "POST"))
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.env.Close)
	var req fasthttp.Request
	if post {
		req.Header.SetMethod("POST")
		req.SetRequestURI("/pass/buy/1")
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString("qty=1")
	} else {
		req.SetRequestURI("/pass/item/1")
	}
	req.Header.SetHost("127.0.0.1:8080")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:5000")), nil)
	return s.Handler(), ctx
}

func benchTCPPassThrough(b *testing.B, post bool) {
	h, ctx := tcpPassThroughHandler(b, post)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d, want 200", ctx.Response.StatusCode())
		}
	}
}

// BenchmarkHandlerPassThroughTCP: the uncached GET row (fg-pass).
func BenchmarkHandlerPassThroughTCP(b *testing.B) { benchTCPPassThrough(b, false) }

// BenchmarkHandlerPostTCP: the purchase POST row (fg-post).
func BenchmarkHandlerPostTCP(b *testing.B) { benchTCPPassThrough(b, true) }
