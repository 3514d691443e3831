package origin

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// TestStaleKeepAlive: the server closed the pool's idle connections (its
// keep-alive timeout, a restart) before the next request. The request is
// answered, on a new connection, and reaches the server once: a POST too,
// since nothing of it was sent on the closed one.
func TestStaleKeepAlive(t *testing.T) {
	var posts atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if ctx.IsPost() {
				posts.Add(1)
			}
			time.Sleep(20 * time.Millisecond) // so that the warm-up below opens several connections
			ctx.SetBodyString("ok " + string(ctx.Method()))
		},
		IdleTimeout: 100 * time.Millisecond,
	}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	defer srv.Shutdown()
	addr := ln.Addr().String()
	set := metrics.NewSet()
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}}, Options{Metrics: set})
	defer p.Close()
	stale := set.GetOrCreateCounter(`flashgate_origin_stale_conns_total{origin="shop",server="` + addr + `"}`)

	do := func(method string) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + "/buy/1")
		req.Header.SetMethod(method)
		if err := p.Do(req, resp, 5*time.Second); err != nil {
			return err
		}
		if got := string(resp.Body()); got != "ok "+method {
			t.Errorf("%s answered %q", method, got)
		}
		return nil
	}
	for round, method := range []string{"GET", "POST", "POST"} {
		var wg sync.WaitGroup // a few connections in the pool
		for range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); do("GET") }()
		}
		wg.Wait()
		time.Sleep(staleCheckAfter + 200*time.Millisecond) // the server closes them all
		before, postsBefore := stale.Get(), posts.Load()
		if err := do(method); err != nil {
			t.Fatalf("round %d: %s on a pool the server closed: %v", round, method, err)
		}
		if got := stale.Get() - before; got != 1 {
			t.Errorf("round %d: %d stale connections counted, want 1 (the first find drops the rest)", round, got)
		}
		if method == "POST" && posts.Load()-postsBefore != 1 {
			t.Errorf("round %d: the server saw the POST %d times", round, posts.Load()-postsBefore)
		}
	}
}

// TestUnaskedBytes: a plain HTTP server that sent an idle connection
// something (a 408 Request Timeout) without closing it. The next request
// does not take that for its answer.
func TestUnaskedBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line != "\r\n" {
						continue
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nanswer"))
					time.Sleep(50 * time.Millisecond)
					c.Write([]byte("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"))
				}
			}()
		}
	}()
	addr := ln.Addr().String()
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}}, Options{})
	defer p.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/")
	for i := range 2 {
		if err := p.Do(req, resp, 5*time.Second); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), "answer") {
			t.Fatalf("request %d: %d %q, want the answer to it", i, resp.StatusCode(), resp.Body())
		}
		time.Sleep(staleCheckAfter + 100*time.Millisecond)
	}
}
