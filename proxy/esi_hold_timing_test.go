package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// holdHead is the shell's part before its include: what a streamed page
// sends first.
var holdHead = strings.Repeat("<p>flash sale item, 40% off</p>\n", 4<<10/32)

// holdOrigin serves ESI shells at /hold/{kind} whose one include goes to
// /live/{kind}, a route without a cache: every page fetches it, so every
// page takes the slow (streamed) path. "fatal" includes it without a
// fallback (its failure fails the page), "continue" with onerror.
func holdOrigin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	ctx.SetContentType("text/html")
	switch path {
	case "/hold/fatal":
		ctx.Response.Header.Set("Surrogate-Control", `content="ESI/1.0"`)
		ctx.SetBodyString(holdHead + `<esi:include src="/live/price"/>` + holdHead)
	case "/hold/continue":
		ctx.Response.Header.Set("Surrogate-Control", `content="ESI/1.0"`)
		ctx.SetBodyString(holdHead + `<esi:include src="/live/price" onerror="continue"/>` + holdHead)
	default:
		ctx.SetBodyString(`<span class="price">$9.99</span>`)
	}
}

const holdRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: page
    path: /hold/{kind}
    origin: shop
    cache: {ttl: 1h}
  - name: live
    path: /live/{name}
    origin: shop
`

// BenchmarkServerESIStreamed: a cached shell with one uncached fragment
// through the full server, fetched on a worker and streamed. "fatal": the
// include can fail the page, so its head is held until the fragment is
// in; "continue": the head leaves at once.
func BenchmarkServerESIStreamed(b *testing.B) {
	for _, kind := range []string{"fatal", "continue"} {
		b.Run(kind, func(b *testing.B) {
			s, err := New(Options{Config: loadYAML(b, "origin:80", holdRules), Dial: inMemoryOrigin(b, holdOrigin),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.env.Close)
			ln := newInmemoryListener(b, s)
			c := &fasthttp.HostClient{Addr: "gateway", MaxConns: 1024, Dial: func(string) (net.Conn, error) { return ln.Dial() }}
			want := []byte(`</p>` + "\n" + `<span class="price">$9.99</span><p>`)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.SetRequestURI("http://shop.example/hold/" + kind)
				for pb.Next() {
					if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 || !bytes.Contains(resp.Body(), want) {
						b.Fatalf("status %d, err %v, body %.80q", resp.StatusCode(), err, resp.Body())
					}
				}
			})
		})
	}
}
