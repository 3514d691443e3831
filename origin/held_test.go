package origin

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// TestHeldRequests: requests of every size, on one keep-alive connection,
// each answered with what it carried, whether it was held and exchanged
// (up to maxHeld) or written as it came.
func TestHeldRequests(t *testing.T) {
	var conns int
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if ctx.ConnRequestNum() == 1 {
			conns++
		}
		ctx.SetBody(append([]byte(string(ctx.Method())+" "), ctx.PostBody()...))
	})
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}}, Options{})
	defer p.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for _, size := range []int{0, 10, maxHeld - 200, maxHeld, maxHeld + 1, 64 << 10, 10, 0} {
		req.Reset()
		req.SetRequestURI("http://" + addr + "/buy/1")
		want := "GET "
		if size > 0 {
			body := bytes.Repeat([]byte{'a' + byte(size%26)}, size)
			req.Header.SetMethod("POST")
			req.SetBody(body)
			want = "POST " + string(body)
		}
		if err := p.Do(req, resp, 5*time.Second); err != nil {
			t.Fatalf("%d-byte body: %v", size, err)
		}
		if string(resp.Body()) != want {
			t.Fatalf("%d-byte body: answered %d bytes, want %d", size, len(resp.Body()), len(want))
		}
	}
	if conns != 1 {
		t.Errorf("the origin saw %d connections, want every request on one", conns)
	}
}

// TestEarlyAnswer: an origin that answers a large request as soon as it
// has its headers, before the body (a 413, a 401), and reads the rest
// away. The answer arrives while the gateway still writes, and is read:
// only a request the gateway holds whole waits for a new arrival.
func TestEarlyAnswer(t *testing.T) {
	addr := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if _, ok := readHead(br); ok {
			c.Write([]byte("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"))
			io.Copy(io.Discard, br) // the body, read away
		}
	})
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}}, Options{})
	defer p.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/upload")
	req.Header.SetMethod("POST")
	req.SetBody(bytes.Repeat([]byte("x"), 256<<10))
	if err := p.Do(req, resp, 5*time.Second); err != nil {
		t.Fatalf("%v; want the origin's early answer", err)
	}
	if resp.StatusCode() != 413 {
		t.Fatalf("status %d, want the origin's 413", resp.StatusCode())
	}
}
