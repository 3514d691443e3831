package demo

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// The demo shop is the origin of the gateway's end-to-end tests and load
// demos; these show what one request costs it, so that the origin is not
// mistaken for the bottleneck.

func benchHandler(b *testing.B, s *Shop, method, uri string) {
	b.Helper()
	h := s.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var req fasthttp.Request
		req.Header.SetMethod(method)
		req.SetRequestURI(uri)
		req.Header.Set("X-User-Id", "bench")
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			ctx.Init(&req, nil, nil)
			h(&ctx)
		}
	})
}

func BenchmarkItemPage(b *testing.B) { benchHandler(b, New(Options{}), "GET", "/item/3") }

func BenchmarkStockFragment(b *testing.B) { benchHandler(b, New(Options{}), "GET", "/frag/stock/3") }

func BenchmarkBuySoldOut(b *testing.B) {
	s := New(Options{})
	s.SetStock(3, 0)
	benchHandler(b, s, "POST", "/buy/3")
}
