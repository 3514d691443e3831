package proxy

import (
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// recorder is an origin that records the last request it got and answers
// with the method and body it received.
type recorder struct {
	mu   sync.Mutex
	last fasthttp.Request
	n    int
	// extra headers set on every response
	respHeaders []string
}

func (r *recorder) handle(ctx *fasthttp.RequestCtx) {
	r.mu.Lock()
	ctx.Request.CopyTo(&r.last)
	r.n++
	r.mu.Unlock()
	ctx.Response.Header.Set("X-Seen-Method", string(ctx.Method()))
	ctx.Response.Header.Set("X-Seen-URI", string(ctx.Request.Header.RequestURI()))
	for i := 0; i+1 < len(r.respHeaders); i += 2 {
		ctx.Response.Header.Set(r.respHeaders[i], r.respHeaders[i+1])
	}
	ctx.SetContentType("text/plain")
	ctx.SetBody(ctx.Request.Body())
}

// header returns a header of the last request ("" if absent).
func (r *recorder) header(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.last.Header.Peek(name))
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func newRecorderGateway(t *testing.T) (*gateway, *recorder) {
	rec := &recorder{}
	addr := startOrigin(t, rec.handle)
	cfg := testConfig(addr,
		testRoute(t, "item", "/item/{id}", "shop", "GET", "HEAD"),
		testRoute(t, "buy", "/buy/{id}", "shop", "POST"),
		testRoute(t, "any", "/any/{id}", "shop"),
	)
	return newGateway(t, cfg, Options{}), rec
}

func TestMethodsAndBodies(t *testing.T) {
	g, rec := newRecorderGateway(t)
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			body := []byte("payload of " + method)
			if method == "GET" || method == "HEAD" {
				body = nil
			}
			resp := g.do(t, method, "/any/7?q=1&b=%20x", body)
			if resp.StatusCode() != 200 {
				t.Fatalf("status = %d, want 200; body %q", resp.StatusCode(), resp.Body())
			}
			if got := string(resp.Header.Peek("X-Seen-Method")); got != method {
				t.Errorf("origin saw method %q, want %q", got, method)
			}
			if got := string(resp.Header.Peek("X-Seen-URI")); got != "/any/7?q=1&b=%20x" {
				t.Errorf("origin saw URI %q, want the path and the query unchanged", got)
			}
			if method != "HEAD" && string(resp.Body()) != string(body) {
				t.Errorf("body = %q, want the request body echoed: %q", resp.Body(), body)
			}
		})
	}
	if rec.count() != 7 {
		t.Errorf("origin got %d requests, want 7 (one per method, no retries)", rec.count())
	}
}

func TestHeadersBothWays(t *testing.T) {
	g, rec := newRecorderGateway(t)
	rec.respHeaders = []string{
		"Connection", "X-Origin-Hop", "X-Origin-Hop", "secret", "Keep-Alive", "timeout=5",
		"Proxy-Authenticate", "Basic", "Upgrade", "h2c", "X-Kept", "yes", "Via", "1.1 origin-lb",
	}
	resp := g.do(t, "GET", "/item/1", nil,
		"Connection", "X-Client-Hop", "X-Client-Hop", "1", "Keep-Alive", "300",
		"Proxy-Authorization", "Basic eA==", "Upgrade", "websocket", "X-Kept", "yes",
		"X-Forwarded-For", "1.2.3.4", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
		"Forwarded", "for=1.2.3.4", "X-Original-URL", "/admin", "X-Rewrite-URL", "/admin",
		"X-HTTP-Method-Override", "DELETE", "X-Request-Id", "forged-id")

	// Upstream.
	for _, h := range []string{"X-Client-Hop", "Keep-Alive", "Proxy-Authorization", "Upgrade",
		"Forwarded", "X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override"} {
		if v := rec.header(h); v != "" {
			t.Errorf("origin got %s: %q; it must be stripped", h, v)
		}
	}
	if c := rec.header("Connection"); strings.Contains(c, "X-Client-Hop") {
		t.Errorf("origin got Connection: %q; the client's connection options must not be forwarded", c)
	}
	want := map[string]string{
		"X-Kept": "yes", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "shop.example",
		"X-Forwarded-Proto": "http", "Via": "1.1 flashgate", "Host": "shop.example",
	}
	for h, v := range want {
		if got := rec.header(h); got != v {
			t.Errorf("origin got %s: %q, want %q", h, got, v)
		}
	}
	id := rec.header("X-Request-Id")
	if id == "" || id == "forged-id" {
		t.Errorf("origin got X-Request-Id %q; an untrusted client's id must be replaced by a generated one", id)
	}

	// Downstream.
	for _, h := range []string{"X-Origin-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v := resp.Header.Peek(h); len(v) > 0 {
			t.Errorf("client got %s: %q; it must be stripped", h, v)
		}
	}
	if got := string(resp.Header.Peek("Via")); got != "1.1 origin-lb, 1.1 flashgate" {
		t.Errorf("client got Via %q, want the origin's Via with ours appended", got)
	}
	if got := string(resp.Header.Peek("X-Request-Id")); got != id {
		t.Errorf("client got X-Request-Id %q, want the id sent upstream %q", got, id)
	}
	if resp.Header.ConnectionClose() {
		t.Error("client connection closed; the origin's connection options must not leak")
	}
}

func TestTrustedPeer(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Server.TrustedProxies = mustPrefixes("10.0.0.0/8")
	g := newGateway(t, cfg, Options{})
	hdr := []string{"X-Forwarded-For", "198.51.100.9", "X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "www.shop.example", "X-Request-Id", "cdn-ray-42", "Forwarded", "for=198.51.100.9"}

	g.doFrom(t, "10.1.2.3", "GET", "/item/1", nil, hdr...)
	want := map[string]string{
		"X-Forwarded-For": "198.51.100.9, 10.1.2.3", "X-Forwarded-Proto": "https",
		"X-Forwarded-Host": "www.shop.example", "X-Request-Id": "cdn-ray-42", "Forwarded": "for=198.51.100.9",
	}
	for h, v := range want {
		if got := rec.header(h); got != v {
			t.Errorf("from a trusted CDN: origin got %s: %q, want %q", h, got, v)
		}
	}

	g.doFrom(t, "192.0.2.1", "GET", "/item/1", nil, hdr...)
	want = map[string]string{
		"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "http",
		"X-Forwarded-Host": "shop.example", "Forwarded": "",
	}
	for h, v := range want {
		if got := rec.header(h); got != v {
			t.Errorf("from an untrusted peer: origin got %s: %q, want %q", h, got, v)
		}
	}
	if got := rec.header("X-Request-Id"); got == "cdn-ray-42" {
		t.Error("an untrusted peer's X-Request-Id was kept")
	}
}

func TestHostRewrite(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle),
		testRoute(t, "item", "/item/{id}", "shop"), testRoute(t, "static", "/static/*", "shop"))
	cfg.Origins[0].HostRewrite = "origin.internal"
	cfg.Routes[1].HostRewrite = "cdn-assets.internal"
	g := newGateway(t, cfg, Options{})
	for _, tc := range []struct{ path, want string }{
		{"/item/1", "origin.internal"},
		{"/static/app.js", "cdn-assets.internal"},
	} {
		g.do(t, "GET", tc.path, nil)
		if got := rec.header("Host"); got != tc.want {
			t.Errorf("GET %s: origin got Host %q, want %q", tc.path, got, tc.want)
		}
		if got := rec.header("X-Forwarded-Host"); got != "shop.example" {
			t.Errorf("GET %s: X-Forwarded-Host %q, want the client's host", tc.path, got)
		}
	}
}

// TestNoOpenProxy: neither an absolute-form request URI nor the Host header
// can make the gateway contact anything but the configured origin.
func TestNoOpenProxy(t *testing.T) {
	g, rec := newRecorderGateway(t)
	for _, tc := range []struct{ name, uri, host string }{
		{"absolute-form", "http://evil.example:9/item/1", "shop.example"},
		{"host header", "/item/1", "127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rec.count()
			resp := g.do(t, "GET", tc.uri, nil, "Host", tc.host)
			if resp.StatusCode() != 200 || rec.count() != before+1 {
				t.Fatalf("status %d, origin requests %d→%d: the request must go to the configured origin",
					resp.StatusCode(), before, rec.count())
			}
			if got := string(resp.Header.Peek("X-Seen-URI")); got != "/item/1" {
				t.Errorf("origin saw URI %q, want the origin-form path", got)
			}
		})
	}
}
