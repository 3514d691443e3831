package cache

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// origin is a real fasthttp server on an in-memory listener that counts
// requests and remembers the last one it received.
type origin struct {
	ln      *fasthttputil.InmemoryListener
	hits    atomic.Int64
	mu      sync.Mutex
	last    fasthttp.RequestHeader
	handler atomic.Pointer[fasthttp.RequestHandler]
	down    atomic.Bool
	client  *fasthttp.HostClient
}

func newOrigin(t testing.TB, h fasthttp.RequestHandler) *origin {
	t.Helper()
	o := &origin{ln: fasthttputil.NewInmemoryListener()}
	o.set(h)
	srv := &fasthttp.Server{NoDefaultServerHeader: true, NoDefaultContentType: true, NoDefaultDate: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			o.hits.Add(1)
			o.mu.Lock()
			ctx.Request.Header.CopyTo(&o.last)
			o.mu.Unlock()
			(*o.handler.Load())(ctx)
		}}
	go srv.Serve(o.ln) //nolint:errcheck // ends when the listener closes
	t.Cleanup(func() { o.client.CloseIdleConnections(); srv.Shutdown() })
	o.client = &fasthttp.HostClient{Addr: "origin", MaxIdemponentCallAttempts: 1,
		Dial: func(string) (net.Conn, error) { return o.ln.Dial() }}
	return o
}

func (o *origin) set(h fasthttp.RequestHandler) { o.handler.Store(&h) }

func (o *origin) lastHeader(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.last.Peek(name))
}

var errOriginDown = errors.New("dial origin: connection refused")

// fetch is the Fetch the tests give the cache: a real HTTP round trip.
func (o *origin) fetch(req *fasthttp.Request, resp *fasthttp.Response) error {
	if o.down.Load() {
		return errOriginDown
	}
	return o.client.DoTimeout(req, resp, 5*time.Second)
}

// gateway is a tiny test pipeline: a real fasthttp server whose handler
// calls Serve with a fixed policy, as the proxy will.
type gateway struct {
	c      *Cache
	p      *Policy
	o      *origin
	params Params
	ln     *fasthttputil.InmemoryListener
	client *fasthttp.HostClient
	bg     sync.WaitGroup
	clock  *fakeClock
}

func newGateway(t testing.TB, spec PolicySpec, o *origin, opts Options) *gateway {
	t.Helper()
	return newGatewayMode(t, spec, o, opts, false, false)
}

// newGatewayMode is newGateway with the proxy's way of calling the cache:
// with outbound, the handler builds the request it sends upstream as
// proxy/forward.go does (DisableNormalizing, header names as received) and
// calls ServeOutbound; with rawNames, the server keeps header names as the
// client spelled them (DisableHeaderNamesNormalizing).
func newGatewayMode(t testing.TB, spec PolicySpec, o *origin, opts Options, outbound, rawNames bool) *gateway {
	t.Helper()
	g := &gateway{o: o, ln: fasthttputil.NewInmemoryListener(), clock: newClock()}
	p, err := CompilePolicy(spec)
	if err != nil {
		t.Fatalf("CompilePolicy: %v", err)
	}
	g.p = p
	if opts.Now == nil {
		opts.Now = g.clock.Now
	}
	opts.Background = func(f func()) {
		g.bg.Add(1)
		go func() { defer g.bg.Done(); f() }()
	}
	if g.c, err = New(opts); err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(g.c.Close)
	// 16 KiB of headers, as the gateway accepts (the origin's server: 4 KiB).
	srv := &fasthttp.Server{NoDefaultServerHeader: true, NoDefaultContentType: true, NoDefaultDate: true,
		Handler: g.handle, ReadBufferSize: 16 << 10, DisableHeaderNamesNormalizing: rawNames}
	if outbound {
		srv.Handler = g.handleOutbound
	}
	go srv.Serve(g.ln) //nolint:errcheck // ends when the listener closes
	t.Cleanup(func() { g.client.CloseIdleConnections(); srv.Shutdown() })
	g.client = &fasthttp.HostClient{Addr: "gateway", MaxIdemponentCallAttempts: 1, MaxConns: 1000,
		Dial: func(string) (net.Conn, error) { return g.ln.Dial() }}
	return g
}

func (g *gateway) handle(ctx *fasthttp.RequestCtx) {
	_, err := g.c.Serve(ctx, g.p, g.params, g.o.fetch)
	answerError(ctx, err)
}

// handleOutbound is handle through ServeOutbound with a request built as
// the proxy builds its upstream request.
func (g *gateway) handleOutbound(ctx *fasthttp.RequestCtx) {
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	in := &ctx.Request
	out.Header.DisableNormalizing()
	out.Header.SetMethodBytes(in.Header.Method())
	out.Header.SetRequestURIBytes(in.Header.RequestURI())
	out.Header.SetHostBytes(in.Header.Host())
	out.UseHostHeader = true
	for k, v := range in.Header.All() {
		if !equalFoldASCII(k, "Host") {
			out.Header.AddBytesKV(k, v)
		}
	}
	_, err := g.c.ServeOutbound(ctx, out, g.p, g.params, g.o.fetch)
	answerError(ctx, err)
}

func answerError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, ErrRequestBody):
		ctx.Error("body not allowed", fasthttp.StatusBadRequest)
	case errors.Is(err, ErrCoalesceTimeout):
		ctx.Error("origin busy", fasthttp.StatusGatewayTimeout)
	case err != nil:
		ctx.Error("origin unavailable", fasthttp.StatusBadGateway)
	}
}

// settle waits for background refreshes and pending store sets.
func (g *gateway) settle() {
	g.bg.Wait()
	g.c.Wait()
}

type reply struct {
	status                       int
	body, xcache, age, etag, enc string
	vary, cc                     string
	header                       *fasthttp.ResponseHeader
}

// get sends one request through the gateway; mod adjusts it first.
func (g *gateway) get(t testing.TB, uri string, mod func(*fasthttp.Request)) reply {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(uri)
	req.Header.SetHost("shop.test")
	if mod != nil {
		mod(req)
	}
	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	if err := g.client.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	g.c.Wait()
	h := &fasthttp.ResponseHeader{}
	resp.Header.CopyTo(h)
	return reply{status: resp.StatusCode(), body: string(resp.Body()), xcache: string(resp.Header.Peek("X-Cache")),
		age: string(resp.Header.Peek("Age")), etag: string(resp.Header.Peek("ETag")),
		enc: string(resp.Header.ContentEncoding()), vary: string(resp.Header.Peek("Vary")),
		cc: string(resp.Header.Peek("Cache-Control")), header: h}
}

// page is an origin handler answering a fixed body with extra headers.
func page(body string, headers ...string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		for i := 0; i+1 < len(headers); i += 2 {
			ctx.Response.Header.Add(headers[i], headers[i+1])
		}
		if len(ctx.Response.Header.ContentType()) == 0 {
			ctx.SetContentType("text/html; charset=utf-8")
		}
		ctx.SetBodyString(body)
	}
}

func (o *origin) lastMethod() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.last.Method())
}
