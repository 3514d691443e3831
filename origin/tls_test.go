package origin_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
	"flashgate/origin"
	"flashgate/rules"
)

// shopCert is the TLS origin's certificate, trusted through
// SSL_CERT_FILE (set before anything in this test binary verifies one),
// as an operator trusts an internal CA.
var shopCert *fgtest.Cert

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "origin-tls")
	if err != nil {
		panic(err)
	}
	shopCert, err = fgtest.MakeCert(fgtest.CertOptions{}, "shop.test")
	if err != nil {
		panic(err)
	}
	file := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(file, shopCert.CertPEM, 0o600); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", file)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestTLSOrigin: an origin reached over TLS (origins.*.tls): requests of
// every size on one connection; its session ticket (bytes nobody asked
// for) does not pass for a server's close, while a real close after its
// keep-alive timeout is found before a request is lost in it.
func TestTLSOrigin(t *testing.T) {
	pair, err := tls.X509KeyPair(shopCert.CertPEM, shopCert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns int
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if ctx.ConnRequestNum() == 1 {
				conns++
			}
			ctx.SetBody(append([]byte(string(ctx.Method())+" "), ctx.PostBody()...))
		},
		IdleTimeout: time.Second,
	}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}})) //nolint:errcheck // returns when shut down
	defer srv.Shutdown()
	addr := ln.Addr().String()
	set := metrics.NewSet()
	p := origin.New(&rules.Origin{Name: "shop", Servers: []string{addr}, TLS: true, HostRewrite: "shop.test"}, origin.Options{Metrics: set})
	defer p.Close()
	stale := set.GetOrCreateCounter(`flashgate_origin_stale_conns_total{origin="shop",server="` + addr + `"}`)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	do := func(size int) {
		t.Helper()
		req.Reset()
		req.SetRequestURI("http://shop.test/buy/1")
		want := "GET "
		if size > 0 {
			body := bytes.Repeat([]byte{'a' + byte(size%26)}, size)
			req.Header.SetMethod("POST")
			req.SetBody(body)
			want = "POST " + string(body)
		}
		if err := p.Do(req, resp, 5*time.Second); err != nil {
			t.Fatalf("%d-byte body over TLS: %v", size, err)
		}
		if string(resp.Body()) != want {
			t.Fatalf("%d-byte body over TLS: answered %d bytes, want %d", size, len(resp.Body()), len(want))
		}
	}
	for _, size := range []int{0, 100, 3000, 64 << 10, 0} {
		do(size)
	}
	time.Sleep(400 * time.Millisecond) // idle, not closed: looked at and used
	do(10)
	if conns != 1 || stale.Get() != 0 {
		t.Fatalf("%d connections, %d found stale; want every request on one live connection", conns, stale.Get())
	}
	time.Sleep(1500 * time.Millisecond) // the server's keep-alive timeout closes it
	do(10)
	if conns != 2 || stale.Get() != 1 {
		t.Fatalf("%d connections, %d found stale; want the closed one found and a second one opened", conns, stale.Get())
	}
}
