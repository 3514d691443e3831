package proxy

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// tcpGateway runs a gateway on a real loopback TCP listener with a read
// timeout of an hour, so an answer that comes at all did not wait for it.
func tcpGateway(t *testing.T, rec *recorder) string {
	t.Helper()
	cfg := testConfig(startOrigin(t, rec.handle), testRoute(t, "item", "/item/{id}", "shop", "GET"))
	cfg.Server.ReadTimeout = time.Hour
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// rawExchange writes each of reqs on one TCP connection and reads one
// answer per request, failing after 20s (the gateway's read timeout is an
// hour: a prompt answer or none).
func rawExchange(t *testing.T, addr string, reqs ...string) []*fasthttp.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	var out []*fasthttp.Response
	for _, r := range reqs {
		if _, err := c.Write([]byte(r)); err != nil {
			t.Fatalf("writing %q: %v", r, err)
		}
		resp := &fasthttp.Response{}
		if err := resp.Read(br); err != nil {
			t.Fatalf("no answer to %q: %v", r, err)
		}
		out = append(out, resp)
	}
	return out
}

// TestHeaderSyntaxAtTheEdge: header names are tokens, and header lines end
// in CRLF. A name with a space is a 400 like other invalid names, never
// forwarded; a request with bare-LF line endings gets a prompt 400, also
// as the second request of a keep-alive connection, instead of waiting
// for the read timeout.
func TestHeaderSyntaxAtTheEdge(t *testing.T) {
	rec := &recorder{}
	addr := tcpGateway(t, rec)
	const ok = "GET /item/1 HTTP/1.1\r\nHost: shop.example\r\n\r\n"
	tests := []struct {
		name   string
		reqs   []string
		status []int
		code   string // in the last answer's body
	}{
		{"space in a header name", []string{"GET /item/1 HTTP/1.1\r\nHost: shop.example\r\nBad Name: x\r\n\r\n"}, []int{400}, "bad_header_name"},
		{"space at the end of a name", []string{"GET /item/1 HTTP/1.1\r\nHost: shop.example\r\nX-A : x\r\n\r\n"}, []int{400}, ""},
		{"tab in a header name", []string{"GET /item/1 HTTP/1.1\r\nHost: shop.example\r\nBad\tName: x\r\n\r\n"}, []int{400}, ""},
		{"bare LF everywhere", []string{"GET /item/1 HTTP/1.1\nHost: shop.example\nX-A: 1\n\n"}, []int{400}, "bad_line_ending"},
		{"bare LF in one header line", []string{"GET /item/1 HTTP/1.1\r\nHost: shop.example\nX-A: 1\r\n\r\n"}, []int{400}, "bad_line_ending"},
		{"bare LF ending the block", []string{"GET /item/1 HTTP/1.1\r\nHost: shop.example\r\n\n"}, []int{400}, "bad_line_ending"},
		{"bare LF on the second request of a connection", []string{ok, "GET /item/2 HTTP/1.1\nHost: shop.example\n\n"}, []int{200, 400}, "bad_line_ending"},
		{"CRLF split over writes", []string{ok, ok}, []int{200, 200}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rec.count()
			resps := rawExchange(t, addr, tt.reqs...)
			for i, r := range resps {
				if r.StatusCode() != tt.status[i] {
					t.Errorf("answer %d: %d %s, want %d", i, r.StatusCode(), r.Body(), tt.status[i])
				}
			}
			last := resps[len(resps)-1]
			if tt.code != "" && !strings.Contains(string(last.Body()), tt.code) {
				t.Errorf("answer %s, want it to name %s", last.Body(), tt.code)
			}
			if tt.code == "bad_line_ending" && !last.ConnectionClose() {
				t.Error("a bare-LF refusal keeps the connection open; the rest of its stream cannot be trusted")
			}
			want := 0
			for _, s := range tt.status {
				if s == 200 {
					want++
				}
			}
			if n := rec.count() - before; n != want {
				t.Errorf("the origin got %d requests, want %d", n, want)
			}
		})
	}
}
