package proxy

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
	"flashgate/internal/fgtest"
)

const proxyRules = `
server:
  listen: LISTEN
  proxy_protocol: {trusted: [TRUSTED], header_timeout: 2s}
origins:
  shop: {servers: ["%s"]}
routes:
  - name: buy
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit: {rate: 1/m, burst: 1, key: ip}
  - {name: all, path: "/*", origin: shop}
`

// balancerRequest sends header (a PROXY header, or nothing) and a GET of
// path on a new connection to addr, as a balancer forwarding a client
// would, and returns the answer; an error when the gateway closed the
// connection without one.
func balancerRequest(t *testing.T, addr string, header []byte, path string, wrap func(net.Conn) net.Conn) (*fasthttp.Response, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(header); err != nil {
		return nil, err
	}
	conn := c
	if wrap != nil {
		conn = wrap(c)
	}
	if _, err := conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")); err != nil {
		return nil, err
	}
	resp := &fasthttp.Response{}
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		return nil, err
	}
	return resp, nil
}

// client is the header a balancer at 10.0.0.1 (or 2001:db8::1) sends for
// the client at addr.
func client(addr string) edge.Header {
	src, dst := netip.MustParseAddrPort(addr), netip.MustParseAddrPort("10.0.0.1:80")
	if src.Addr().Is6() {
		dst = netip.MustParseAddrPort("[2001:db8::1]:80")
	}
	return edge.Header{Source: src, Dest: dst}
}

// TestProxyProtocolPerIPLimit: behind a balancer sending the PROXY
// protocol, a per-IP limit counts the clients the headers name (v1 and
// v2 alike), not the balancer; a balancer connection without a header is
// refused.
func TestProxyProtocolPerIPLimit(t *testing.T) {
	text := strings.ReplaceAll(proxyRules, "TRUSTED", "127.0.0.1")
	g := startEdgeGateway(t, t.TempDir(), text, echoOrigin(t))
	for i, tc := range []struct {
		header []byte
		want   int
	}{
		{client("203.0.113.1:5000").AppendV1(nil), 200},
		{client("203.0.113.1:5001").AppendV2(nil), 429}, // the same client: its one request a minute is spent
		{client("203.0.113.2:5000").AppendV2(nil), 200},
		{client("[2001:db8::2]:5000").AppendV1(nil), 200},
		{client("203.0.113.2:5002").AppendV1(nil), 429},
	} {
		resp, err := balancerRequest(t, g.addr, tc.header, "/buy/1", nil)
		if err != nil || resp.StatusCode() != tc.want {
			t.Errorf("request %d (%q): %v %v, want %d", i, tc.header, statusOf(resp), err, tc.want)
		}
	}
	resp, err := balancerRequest(t, g.addr, client("198.51.100.9:1").AppendV1(nil), "/echo", nil)
	if err != nil || string(resp.Body()) != "198.51.100.9 http" {
		t.Errorf("the origin is told %q (%v), want X-Forwarded-For 198.51.100.9", bodyOf(resp), err)
	}
	if resp, err := balancerRequest(t, g.addr, nil, "/echo", nil); err == nil {
		t.Errorf("a trusted balancer without a PROXY header got %d, want the connection closed", resp.StatusCode())
	}
	var b strings.Builder
	g.WritePrometheus(&b)
	if m := b.String(); !strings.Contains(m, `flashgate_edge_refused_total{reason="proxy_protocol"} 1`) {
		t.Errorf("metrics do not count the refusal:\n%s", m)
	}
}

// TestProxyProtocolUntrustedPeer: a peer that is not a trusted balancer
// cannot name a client: its PROXY header is refused as bad HTTP, and its
// plain requests are its own.
func TestProxyProtocolUntrustedPeer(t *testing.T) {
	text := strings.ReplaceAll(proxyRules, "TRUSTED", "10.0.0.0/8")
	g := startEdgeGateway(t, t.TempDir(), text, echoOrigin(t))
	for _, h := range [][]byte{client("203.0.113.1:5000").AppendV1(nil), client("203.0.113.1:5000").AppendV2(nil)} {
		resp, err := balancerRequest(t, g.addr, h, "/echo", nil)
		if err != nil || resp.StatusCode() != 400 {
			t.Errorf("untrusted peer's PROXY header %q: %v %v, want 400", h, statusOf(resp), err)
		}
	}
	resp, err := balancerRequest(t, g.addr, nil, "/echo", nil)
	if err != nil || string(resp.Body()) != "127.0.0.1 http" {
		t.Errorf("untrusted peer without a header: %q (%v), want served as 127.0.0.1", bodyOf(resp), err)
	}
}

// TestProxyProtocolUnderTLS: the balancer's header comes first, then the
// client's TLS handshake; the connection is TLS and the client is the
// header's.
func TestProxyProtocolUnderTLS(t *testing.T) {
	dir := t.TempDir()
	a := fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
	text := strings.ReplaceAll(proxyRules, "TRUSTED", "127.0.0.1") + "\n" // then server.tls, below
	text = strings.Replace(text, "  proxy_protocol:", "  tls: {certificates: [{cert: a.crt, key: a.key}]}\n  proxy_protocol:", 1)
	g := startEdgeGateway(t, dir, text, echoOrigin(t))
	resp, err := balancerRequest(t, g.addr, client("198.51.100.9:1").AppendV2(nil), "/echo", func(c net.Conn) net.Conn {
		return tls.Client(c, &tls.Config{ServerName: "a.test", RootCAs: a.Pool()})
	})
	if err != nil || string(resp.Body()) != "198.51.100.9 https" {
		t.Errorf("origin told %q (%v), want 198.51.100.9 over https", bodyOf(resp), err)
	}
}

func statusOf(r *fasthttp.Response) any {
	if r == nil {
		return "no answer"
	}
	return r.StatusCode()
}

func bodyOf(r *fasthttp.Response) string {
	if r == nil {
		return "no answer"
	}
	return string(r.Body())
}
