//go:build !race

package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
	"flashgate/rules"
)

// TestTLSHandlerAllocs: the TLS listener's handler (the pipeline plus the
// HSTS header) allocates nothing per request.
func TestTLSHandlerAllocs(t *testing.T) {
	dir := t.TempDir()
	fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, `server:
  tls: {certificates: [{cert: a.crt, key: a.key}], hsts: {max_age: 1h}}
origins:
  shop: {servers: ["127.0.0.1:1"]}
routes:
  - {name: item, path: "/item/{id}", origin: shop}
`)
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var req fasthttp.Request
	req.SetRequestURI("/nowhere")
	req.Header.SetHost("a.test")
	ctx := &fasthttp.RequestCtx{}
	peer := netip.MustParseAddr("203.0.113.7")
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.AddrPortFrom(peer, 5000)), nil)
	s.handleTLS(ctx, peer)
	if ctx.Response.StatusCode() != 404 || string(ctx.Response.Header.Peek("Strict-Transport-Security")) != "max-age=3600" {
		t.Fatalf("%d, HSTS %q: want 404 with max-age=3600", ctx.Response.StatusCode(), ctx.Response.Header.Peek("Strict-Transport-Security"))
	}
	if n := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		s.handleTLS(ctx, peer)
	}); n > 0 {
		t.Fatalf("the TLS handler allocates %.1f times per request, want 0", n)
	}
}
