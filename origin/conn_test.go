package origin

import (
	"bufio"
	"bytes"
	"io"
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
		time.Sleep(300 * time.Millisecond) // the server closes them all
		before, postsBefore := stale.Get(), posts.Load()
		if err := do(method); err != nil {
			t.Fatalf("round %d: %s on a pool the server closed: %v", round, method, err)
		}
		if got := stale.Get() - before; got != 1 {
			t.Errorf("round %d: %d stale connections counted, want 1 (the one the request took)", round, got)
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
	addr := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nanswer"))
			time.Sleep(50 * time.Millisecond)
			c.Write([]byte("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"))
		}
	})
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
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLingeringClose: a server that answers and then closes its
// keep-alive connection with a lingering close (shutdown of its sending
// side, then reading away what comes), as Apache's event MPM does when its
// workers are busy, milliseconds after the answer. A request sent there
// would get neither an answer nor a reset; it goes on a new connection,
// at once.
func TestLingeringClose(t *testing.T) {
	var served atomic.Int32
	addr := rawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if !readRequest(br) {
			return
		}
		served.Add(1)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		time.Sleep(5 * time.Millisecond)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, br)
	})
	set := metrics.NewSet()
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}}, Options{Metrics: set})
	defer p.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/buy/1")
	req.Header.SetMethod("POST")
	// Requests that are held and exchanged, and requests too large for
	// that, which look before their first write.
	sizes := []int{10, 64 << 10, 10, 64 << 10}
	for i, size := range sizes {
		req.SetBody(bytes.Repeat([]byte("q"), size))
		if err := p.Do(req, resp, 5*time.Second); err != nil || string(resp.Body()) != "ok" {
			t.Fatalf("request %d (%d-byte body): %v, %q", i, size, err, resp.Body())
		}
		time.Sleep(50 * time.Millisecond) // the close arrives while the connection idles
	}
	if n := served.Load(); n != int32(len(sizes)) {
		t.Errorf("the server answered %d requests, want each of the %d once", n, len(sizes))
	}
	if n := set.GetOrCreateCounter(`flashgate_origin_stale_conns_total{origin="shop",server="` + addr + `"}`).Get(); n != uint64(len(sizes)-1) {
		t.Errorf("%d stale connections counted, want %d", n, len(sizes)-1)
	}
}

// TestHealthProbeLeavesNoBody: the health probe does not read the body of
// its answer (a home page can be large), so it does not give its
// connection back to the pool, where the unread body would be the next
// request's answer.
func TestHealthProbeLeavesNoBody(t *testing.T) {
	page := strings.Repeat("x", 256<<10)
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/" {
			ctx.SetBodyString(page)
			return
		}
		ctx.SetBodyString("item")
	})
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}, Health: rules.HealthCheck{Path: "/"}}, Options{})
	defer p.Close()
	h := newHealthChecker(p, nil)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/item/1")
	for i := range 3 {
		if !h.probe(p.servers[0]) {
			t.Fatalf("probe %d failed", i)
		}
		if err := p.Do(req, resp, 5*time.Second); err != nil || string(resp.Body()) != "item" {
			t.Fatalf("request after probe %d: %v, %d bytes", i, err, len(resp.Body()))
		}
	}
}

// TestPoolShrinksAfterSpike: the connections a spike opened close once
// the spike is over and they sit idle for max_idle_conn, though requests
// keep coming: the pool reuses the connection released last.
func TestPoolShrinksAfterSpike(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/spike" {
			time.Sleep(50 * time.Millisecond)
		}
	}}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	defer srv.Shutdown()
	addr := ln.Addr().String()
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}, MaxIdleConn: 200 * time.Millisecond}, Options{})
	defer p.Close()
	do := func(path string) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + path)
		if err := p.Do(req, resp, 5*time.Second); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); do("/spike") }()
	}
	wg.Wait()
	if n := srv.GetOpenConnectionsCount(); n != 8 {
		t.Fatalf("%d connections after a spike of 8, want 8", n)
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		do("/") // one at a time: one connection is enough
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.GetOpenConnectionsCount(); n > 2 {
		t.Errorf("%d connections still open a second after the spike, with max_idle_conn 200ms; want the one in use", n)
	}
}
