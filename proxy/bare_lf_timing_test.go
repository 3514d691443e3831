package proxy

import (
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkLFConn measures what the bare-LF check costs a keep-alive
// connection on loopback: the header scan, and, for an answer larger than
// fasthttp's write buffer, the single writev fasthttp makes only to a
// *net.TCPConn. Compare plain and lf in one run (a shared machine's
// absolute numbers mean little).
func BenchmarkLFConn(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		body := make([]byte, size)
		for _, wrap := range []bool{false, true} {
			name := "plain/" + strconv.Itoa(size)
			if wrap {
				name = "lf/" + strconv.Itoa(size)
			}
			b.Run(name, func(b *testing.B) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
					if c, ok := ctx.Conn().(*lfConn); ok {
						c.armed = true
					}
					ctx.SetBody(body)
				}}
				var l net.Listener = ln
				if wrap {
					l = lfListener{ln}
				}
				go srv.Serve(l)      //nolint:errcheck // ends with Shutdown
				defer srv.Shutdown() //nolint:errcheck // test server
				c := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 1}
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.SetRequestURI("http://" + ln.Addr().String() + "/item/1")
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Do(req, resp); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
