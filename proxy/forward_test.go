package proxy

import (
	"bufio"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
)

// inbound parses a raw request as the server would and returns an
// Exchange for it from peer, with trusted proxies 10.0.0.0/8.
func inbound(t *testing.T, raw, peer string) *Exchange {
	t.Helper()
	ctx := &fasthttp.RequestCtx{}
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("parse request: %v", err)
	}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer+":5000")), nil)
	x := &Exchange{Ctx: ctx, Path: []byte("/item/1")}
	trusted := mustPrefixes("10.0.0.0/8")
	x.peer = peerAddr(ctx)
	x.peerTrusted = edge.InPrefixes(x.peer, trusted)
	resolveRequestID(x, newIDGenerator())
	return x
}

func TestBuildOutbound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		peer   string
		header string            // raw header lines after Host
		want   map[string]string // "" = must be absent
	}{
		{
			name:   "hop-by-hop",
			peer:   "192.0.2.1",
			header: "Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 300\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nExpect: 100-continue\r\nX-App: a\r\n",
			want: map[string]string{"Connection": "", "X-Secret": "", "Keep-Alive": "", "TE": "", "Upgrade": "", "Expect": "",
				"Proxy-Authorization": "", "Proxy-Connection": "", "X-App": "a"},
		},
		{
			name:   "connection close with named header",
			peer:   "192.0.2.1",
			header: "Connection: close, X-Drop\r\nX-Drop: 1\r\n",
			want:   map[string]string{"X-Drop": "", "Connection": ""},
		},
		{
			name:   "untrusted peer",
			peer:   "192.0.2.1",
			header: "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nForwarded: for=1.1.1.1\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nX-HTTP-Method-Override: DELETE\r\nVia: 1.0 fake\r\n",
			want: map[string]string{"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "shop.example",
				"Forwarded": "", "X-Original-URL": "", "X-Rewrite-URL": "", "X-HTTP-Method-Override": "", "Via": "1.0 fake, 1.1 flashgate"},
		},
		{
			name: "untrusted peer: URL-building and client-address headers",
			peer: "192.0.2.1",
			header: "X-Forwarded-Port: 8443\r\nX-Forwarded-Prefix: //evil.example\r\nX-Forwarded-Server: evil\r\nX-Host: evil\r\n" +
				"x-real-ip: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nCF-Connecting-IP: 6.6.6.6\r\nX-Original-Forwarded-For: 6.6.6.6\r\n",
			want: map[string]string{"X-Forwarded-Port": "", "X-Forwarded-Prefix": "", "X-Forwarded-Server": "", "X-Host": "",
				"X-Real-IP": "", "True-Client-IP": "", "CF-Connecting-IP": "", "X-Original-Forwarded-For": "", "X-Forwarded-For": "192.0.2.1"},
		},
		{
			name:   "trusted peer keeps what its CDN set",
			peer:   "10.0.0.5",
			header: "X-Forwarded-Port: 443\r\nTrue-Client-IP: 198.51.100.9\r\n",
			want:   map[string]string{"X-Forwarded-Port": "443", "True-Client-IP": "198.51.100.9"},
		},
		{
			name:   "trusted peer",
			peer:   "10.0.0.5",
			header: "X-Forwarded-For: 1.1.1.1, 10.9.9.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: www.shop.example\r\nForwarded: for=1.1.1.1\r\nX-Request-Id: abc-123\r\n",
			want: map[string]string{"X-Forwarded-For": "1.1.1.1, 10.9.9.9, 10.0.0.5", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "www.shop.example", "Forwarded": "for=1.1.1.1", "X-Request-Id": "abc-123"},
		},
		{
			name:   "trusted peer with malformed request id",
			peer:   "10.0.0.5",
			header: "X-Request-Id: <script>\r\n",
			want:   map[string]string{"X-Forwarded-For": "10.0.0.5"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := inbound(t, "GET /item/1?x=1 HTTP/1.1\r\nHost: shop.example\r\n"+tc.header+"\r\n", tc.peer)
			var out fasthttp.Request
			buildOutbound(x, &out, []byte("origin.internal"))
			for h, v := range tc.want {
				// The outbound request keeps the client's spelling of
				// names, so look them up case-insensitively.
				if got := peekAnyCase(&out.Header, h); got != v {
					t.Errorf("%s: %q, want %q", h, got, v)
				}
			}
			if got := string(out.Header.Host()); got != "origin.internal" {
				t.Errorf("Host %q, want origin.internal", got)
			}
			if got := string(out.Header.RequestURI()); got != "/item/1?x=1" {
				t.Errorf("request URI %q, want /item/1?x=1", got)
			}
			if got := string(out.Header.Peek("X-Request-Id")); !validRequestID([]byte(got)) || got == "<script>" {
				t.Errorf("X-Request-Id %q is not a valid id", got)
			}
			if len(x.Ctx.Request.Header.Peek("Via")) > 0 && strings.Contains(string(x.Ctx.Request.Header.Peek("Via")), "flashgate") {
				t.Error("the inbound request was mutated")
			}
		})
	}
}

func TestCleanResponse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		want   map[string]string
		close  bool
	}{
		{
			name:   "hop-by-hop",
			header: "Connection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTrailer: X-Checksum\r\nAlt-Svc: h3=\":443\"\r\nX-Shop: 1\r\nContent-Length: 2\r\n",
			want: map[string]string{"X-Internal": "", "Keep-Alive": "", "Proxy-Authenticate": "", "Upgrade": "", "Alt-Svc": "",
				"Trailer": "", "Connection": "", "X-Shop": "1", "Via": "1.1 flashgate"},
		},
		{
			name:   "origin closes its connection",
			header: "Connection: close\r\nContent-Length: 2\r\n",
			want:   map[string]string{"Connection": ""},
		},
		{
			name:   "chunked body is re-framed",
			header: "Transfer-Encoding: chunked\r\nVia: 1.1 lb\r\n",
			want:   map[string]string{"Transfer-Encoding": "", "Via": "1.1 lb, 1.1 flashgate"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := "ok"
			if strings.Contains(tc.header, "chunked") {
				body = "2\r\nok\r\n0\r\n\r\n"
			}
			var resp fasthttp.Response
			if err := resp.Read(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n" + tc.header + "\r\n" + body))); err != nil {
				t.Fatal(err)
			}
			cleanResponse(&resp)
			for h, v := range tc.want {
				if got := string(resp.Header.Peek(h)); got != v {
					t.Errorf("%s: %q, want %q", h, got, v)
				}
			}
			if resp.ConnectionClose() {
				t.Error("the origin's Connection: close would close the client's connection")
			}
			if string(resp.Body()) != "ok" {
				t.Errorf("body %q, want ok", resp.Body())
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted := mustPrefixes("10.0.0.0/8", "2001:db8::/32")
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"untrusted peer ignores XFF", "192.0.2.1", "1.1.1.1", "192.0.2.1"},
		{"trusted peer, one hop", "10.0.0.1", "198.51.100.7", "198.51.100.7"},
		{"rightmost untrusted wins over forged left entries", "10.0.0.1", "6.6.6.6, 198.51.100.7, 10.2.2.2", "198.51.100.7"},
		{"all trusted: leftmost", "10.0.0.1", "10.3.3.3, 10.2.2.2", "10.3.3.3"},
		{"garbage entry stops the walk", "10.0.0.1", "198.51.100.7, not-an-ip", "10.0.0.1"},
		{"no XFF", "10.0.0.1", "", "10.0.0.1"},
		{"IPv6", "2001:db8::1", "2001:db8::2, 2a00::9", "2a00::9"},
		{"mapped IPv4 peer", "::ffff:10.0.0.1", "198.51.100.7", "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := &fasthttp.RequestCtx{}
			var req fasthttp.Request
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			ctx.Init(&req, net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(tc.peer), 1)), nil)
			if got := ClientIP(ctx, trusted); got.String() != tc.want {
				t.Errorf("ClientIP = %v, want %s", got, tc.want)
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	g := newIDGenerator()
	a, b := string(g.Append(nil)), string(g.Append(nil))
	if a == b || !validRequestID([]byte(a)) || len(a) > 30 {
		t.Errorf("ids %q and %q: want distinct, valid, at most 30 bytes", a, b)
	}
	if h := newIDGenerator(); string(h.Append(nil)) == a {
		t.Error("two generators made the same first id: the random prefix is missing")
	}
	for v, want := range map[string]bool{"": false, "abc-DEF_1.2:3": true, "a b": false, "a\r\nX: y": false, strings.Repeat("a", 129): false} {
		if validRequestID([]byte(v)) != want {
			t.Errorf("validRequestID(%q) = %v, want %v", v, !want, want)
		}
	}
	for _, n := range []uint64{0, 1, 31, 32, 1023, 1024, 1<<35 - 1, 1 << 35, 123456789012345, math.MaxUint64} {
		if got, want := string(appendBase32([]byte("x-"), n)), "x-"+strconv.FormatUint(n, 32); got != want {
			t.Errorf("appendBase32(%d) = %q, want %q", n, got, want)
		}
	}
}

// peekAnyCase returns the value of the header named name in any spelling.
func peekAnyCase(h *fasthttp.RequestHeader, name string) string {
	for k, v := range h.All() {
		if strings.EqualFold(string(k), name) {
			return string(v)
		}
	}
	return ""
}
