package proxy

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// hotBenchRules: item 1 is a static hot key, so its page is micro-cached
// though the route has no cache section; every request is observed for
// its item, URL and client.
const hotBenchRules = `
hotspot:
  share: 5%
  sample: 8
  keys: [param, url, client]
  static: [{kind: param, key: "item:1"}]
origins:
  shop:
    servers: [ORIGIN]
routes:
  - {name: item, path: "/item/{id}", origin: shop}
`

func hotServer(tb testing.TB) *Server {
	s, err := New(Options{Config: loadYAML(tb, "origin:80", hotBenchRules), Dial: inMemoryOrigin(tb, stagesOrigin),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.env.Close)
	return s
}

// BenchmarkServerHotHit: the micro-cached page of a hot item through the
// full server (in-memory listener); compare with BenchmarkServerCacheHit
// in the same run.
func BenchmarkServerHotHit(b *testing.B) {
	s := hotServer(b)
	warmCtx(b, s, "/item/1")
	ln := newInmemoryListener(b, s)
	c := &fasthttp.HostClient{Addr: "gateway", MaxConns: 1024, Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	b.SetBytes(int64(len(page8K)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://shop.example/item/1")
		for pb.Next() {
			if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 || len(resp.Body()) != len(page8K) {
				b.Fatalf("status %d, err %v", resp.StatusCode(), err)
			}
		}
	})
}

// BenchmarkHandlerHotHit is the hot hit without the connection: detection
// (three keys observed, sampled) plus the micro-cache.
func BenchmarkHandlerHotHit(b *testing.B) {
	s := hotServer(b)
	ctx := warmCtx(b, s, "/item/1")
	h := s.Handler()
	b.SetBytes(int64(len(page8K)))
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}
