package proxy

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkServerESI assembles a cached shell with 3 and 50 cached
// fragments through the full server (in-memory listener): the fast path,
// on the request goroutine. Target: 0 allocs/op.
func BenchmarkServerESI(b *testing.B) {
	for _, n := range []int{3, 50} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			want := []byte(`<span class="price">$` + strconv.Itoa(n-1) + `.99</span>`)
			benchServer(b, "/page/"+strconv.Itoa(n), func(r *fasthttp.Response) bool {
				return r.StatusCode() == 200 && bytes.Contains(r.Body(), want) && !bytes.Contains(r.Body(), []byte("<esi:"))
			})
		})
	}
}

// BenchmarkHandlerESI is the same without the connection.
func BenchmarkHandlerESI(b *testing.B) {
	for _, n := range []int{3, 50} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := stagesServer(b)
			ctx := warmCtx(b, s, "/page/"+strconv.Itoa(n))
			h := s.Handler()
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h(ctx)
			}
		})
	}
}
