package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkPeek: the ESI fast path's lookup, a fresh hit and a miss, from
// parallel goroutines. Target: 0 allocs/op.
func BenchmarkPeek(b *testing.B) {
	f := newPeekFixture(b)
	f.fill(b, "/item/1")
	for _, tc := range []struct {
		name, uri string
		want      bool
	}{{"hit", "/item/1", true}, {"miss", "/item/2", false}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				peekRequest("GET", tc.uri).CopyTo(&req)
				for pb.Next() {
					if _, ok := f.c.Peek(&req, f.p); ok != tc.want {
						b.Errorf("Peek %s = %v, want %v", tc.uri, ok, tc.want)
						return
					}
				}
			})
		})
	}
}
