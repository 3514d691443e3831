package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
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

func hotServer(tb testing.TB) *Server { return rulesServer(tb, hotBenchRules, false) }

// rulesServer serves rules on the in-memory stagesOrigin. manual leaves
// hot-key analysis to the caller: allocation tests count every malloc of
// the process, and the analysis goroutine allocates each hot set it
// publishes.
func rulesServer(tb testing.TB, rules string, manual bool) *Server {
	s, err := New(Options{Config: loadYAML(tb, "origin:80", rules), Dial: inMemoryOrigin(tb, stagesOrigin), hotManual: manual,
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

// BenchmarkHandlerColdPass pairs a cold item's pass-through with detection
// on (three keys hashed and sampled, a static hot key making every key be
// looked up) and off: what detection costs the 99% of requests that are
// not hot.
func BenchmarkHandlerColdPass(b *testing.B) {
	for _, bc := range []struct{ name, rules string }{
		// One key alone is 100% of its kind: only a rate no bench reaches
		// keeps it cold.
		{"detect", strings.Replace(hotBenchRules, "share: 5%", "rate: 100000000/s", 1)},
		{"off", hotBenchRules[strings.Index(hotBenchRules, "origins:"):]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := rulesServer(b, bc.rules, false)
			var req fasthttp.Request
			req.SetRequestURI("/item/2")
			req.Header.SetHost("shop.example")
			ctx := &fasthttp.RequestCtx{}
			ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:5000")), nil)
			h := s.Handler()
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h(ctx)
			}
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d", ctx.Response.StatusCode())
			}
		})
	}
}
