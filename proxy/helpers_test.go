package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
	"github.com/valyala/fasthttp/fasthttputil"

	"flashgate/route"
	"flashgate/rules"
)

// startOrigin runs h on a real fasthttp server on 127.0.0.1:0 and returns
// its address. The server is shut down when the test ends.
func startOrigin(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, DisableHeaderNamesNormalizing: true}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testRoute builds a rules.Route as rules.Load would.
func testRoute(t testing.TB, name, path, origin string, methods ...string) *rules.Route {
	t.Helper()
	p, err := route.Parse(path)
	if err != nil {
		t.Fatalf("route.Parse(%q): %v", path, err)
	}
	return &rules.Route{Name: name, Path: path, Pattern: p, Origin: origin, Methods: methods}
}

// testConfig is a one-origin ("shop" at addr) configuration with routes.
func testConfig(addr string, routes ...*rules.Route) *rules.Config {
	return &rules.Config{
		Server: rules.Server{
			MaxBodyBytes: 1 << 20, MaxHeaderBytes: 16 << 10, ShutdownTimeout: 5 * time.Second,
			Unmatched: "deny",
		},
		Origins: []*rules.Origin{{Name: "shop", Servers: []string{addr}, ReadTimeout: 5 * time.Second}},
		Routes:  routes,
	}
}

// gateway is a Server under test behind an in-memory listener.
type gateway struct {
	*Server
	ln *fasthttputil.InmemoryListener
	// logs collects the server's log output.
	logs *fgtest.Buffer
}

func newGateway(t testing.TB, cfg *rules.Config, opts Options) *gateway {
	t.Helper()
	logs := &fgtest.Buffer{}
	opts.Config = cfg
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go s.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &gateway{Server: s, ln: ln, logs: logs}
}

// client returns a client whose connections come from peer (a TCP
// address the gateway sees as the remote end).
func (g *gateway) client(peer string) *fasthttp.HostClient {
	addr := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer + ":40000"))
	return &fasthttp.HostClient{
		Addr: "gateway", MaxIdemponentCallAttempts: 1, DisablePathNormalizing: true,
		Dial: func(string) (net.Conn, error) { return g.ln.DialWithLocalAddr(addr) },
	}
}

// do sends a request from 203.0.113.7 and returns the response.
func (g *gateway) do(t testing.TB, method, uri string, body []byte, hdr ...string) *fasthttp.Response {
	t.Helper()
	return g.doFrom(t, "203.0.113.7", method, uri, body, hdr...)
}

func (g *gateway) doFrom(t testing.TB, peer, method, uri string, body []byte, hdr ...string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost("shop.example")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if body != nil {
		req.SetBody(body)
	}
	resp := &fasthttp.Response{}
	if err := g.client(peer).DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	return resp
}

// doRaw writes one request on a fresh connection, ignoring write errors
// (the gateway may answer and close before the body is all sent, as it
// does for oversized requests), and reads the answer.
func (g *gateway) doRaw(t testing.TB, method, uri string, body []byte, hdr ...string) *fasthttp.Response {
	t.Helper()
	c, err := g.ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: shop.example\r\nContent-Length: %d\r\n", method, uri, len(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	b.WriteString("\r\n")
	b.Write(body)
	go c.Write(b.Bytes()) //nolint:errcheck // the gateway may close first; the answer is what counts
	resp := &fasthttp.Response{}
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, uri, err)
	}
	return resp
}

// metric returns the text of the metrics.
func (g *gateway) metricsText() string {
	var b bytes.Buffer
	g.WritePrometheus(&b)
	return b.String()
}

func mustPrefixes(s ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, p := range s {
		ps = append(ps, netip.MustParsePrefix(p))
	}
	return ps
}
