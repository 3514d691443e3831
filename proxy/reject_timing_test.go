package proxy

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// The rejection path measured against its reference: a bare fasthttp
// server giving the same answer (issue 5, "at least 0.8× a bare fasthttp
// server answering 429"). The requests carry what a browser sends, since
// the pipeline's header handling is a large part of what is measured.

// browserHeaders are the request headers of a typical browser request.
var browserHeaders = [...][2]string{
	{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},
	{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
	{"Accept-Encoding", "gzip, deflate, br, zstd"},
	{"Accept-Language", "en-US,en;q=0.9,de;q=0.8"},
	{"Cookie", "session=5f2b9c0e7a1d4e3f; cart=7; consent=1"},
}

// browserRequest returns the wire bytes of method uri from a browser.
func browserRequest(method, uri string) []byte {
	b := []byte(method + " " + uri + " HTTP/1.1\r\nHost: shop.example\r\n")
	for _, h := range browserHeaders {
		b = append(b, h[0]+": "+h[1]+"\r\n"...)
	}
	if method == "POST" {
		b = append(b, "Content-Length: 0\r\n"...)
	}
	return append(b, "\r\n"...)
}

// browserCtx returns a request context holding browserRequest from peer.
func browserCtx(tb testing.TB, method, uri, peer string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(bytes.NewReader(browserRequest(method, uri)))); err != nil {
		tb.Fatal(err)
	}
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer)), nil)
	return ctx
}

// bareReject is the reference: a plain fasthttp handler writing the
// answer the gateway's rate limit gives a browser (status, the same
// headers, the same page), with the usual string-keyed setters.
func bareReject(page []byte) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.Response.Header.Set("X-Flashgate-Filter", "ratelimit")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.Response.Header.Set("Retry-After", "60")
		ctx.Response.Header.Set("X-Request-Id", "0123456789abcdef-1")
		ctx.SetBody(page)
	}
}

// rejectPage returns the page the gateway on rejectRules answers a browser
// with once its limit is reached.
func rejectPage(b *testing.B) []byte {
	h, _ := admissionHandler(b, rejectRules)
	ctx := browserCtx(b, "POST", "/buy/42", "203.0.113.7:5000")
	h(ctx)
	h(ctx)
	if ctx.Response.StatusCode() != 429 {
		b.Fatalf("status %d, want 429", ctx.Response.StatusCode())
	}
	return append([]byte(nil), ctx.Response.Body()...)
}

// BenchmarkHandlerRejectBrowser: the handler alone rejecting a browser's
// request at the admission stage.
func BenchmarkHandlerRejectBrowser(b *testing.B) {
	h, _ := admissionHandler(b, rejectRules)
	ctx := browserCtx(b, "POST", "/buy/42", "203.0.113.7:5000")
	h(ctx)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
	if ctx.Response.StatusCode() != 429 {
		b.Fatalf("status %d, want 429", ctx.Response.StatusCode())
	}
}

// BenchmarkHandlerBareReject: the reference handler on the same request.
func BenchmarkHandlerBareReject(b *testing.B) {
	h := bareReject(rejectPage(b))
	ctx := browserCtx(b, "POST", "/buy/42", "203.0.113.7:5000")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}

// pipelineDepth is how many requests the pipelined benchmarks send per
// write, as bench/run.sh -p 16 does.
const pipelineDepth = 16

// benchPipelined sends b.N browser requests over one in-memory connection
// from 203.0.113.7, pipelineDepth per write, and checks every answer.
func benchPipelined(b *testing.B, ln *fasthttputil.InmemoryListener, want int) {
	conn, err := ln.DialWithLocalAddr(net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:40000")))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	batch := bytes.Repeat(browserRequest("POST", "/buy/42"), pipelineDepth)
	br := bufio.NewReaderSize(conn, 64<<10)
	var resp fasthttp.Response
	roundTrip := func(n int) {
		if _, err := conn.Write(batch[:n*len(batch)/pipelineDepth]); err != nil {
			b.Fatal(err)
		}
		for range n {
			if err := resp.Read(br); err != nil {
				b.Fatal(err)
			}
		}
	}
	roundTrip(1) // the first request of the minute passes the limit
	b.ReportAllocs()
	b.ResetTimer()
	for n := b.N; n > 0; n -= pipelineDepth {
		roundTrip(min(n, pipelineDepth))
		if resp.StatusCode() != want {
			b.Fatalf("status %d, want %d", resp.StatusCode(), want)
		}
	}
}

// BenchmarkServerRejectPipelined: the full server (listener, pipeline,
// filter chain, prebuilt page) rejecting pipelined browser requests.
func BenchmarkServerRejectPipelined(b *testing.B) {
	dial := inMemoryOrigin(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	g := newGateway(b, admissionConfig(b, rejectRules), Options{Dial: dial, Logger: quietLogger()})
	benchPipelined(b, g.ln, 429)
}

// BenchmarkServerBareRejectPipelined: the reference server (fasthttp
// defaults, as bench/origin -mode ceiling-reject) on the same requests.
func BenchmarkServerBareRejectPipelined(b *testing.B) {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: bareReject(rejectPage(b))}
	go srv.Serve(ln) //nolint:errcheck // returns on shutdown
	b.Cleanup(func() { _ = srv.Shutdown() })
	benchPipelined(b, ln, 429)
}
