package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
	"flashgate/rules"
)

// edgeGateway is a Server on a real loopback listener with the rules of
// text (a format taking the origin's address; LISTEN stands for the
// listener's), written to dir.
type edgeGateway struct {
	*Server
	addr string // host:port of the public listener
	logs *fgtest.Buffer
}

func startEdgeGateway(t *testing.T, dir, text, origin string) *edgeGateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, strings.ReplaceAll(fmt.Sprintf(text, origin), "LISTEN", ln.Addr().String()))
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatalf("rules.Load:\n%v", err)
	}
	logs := &fgtest.Buffer{}
	s, err := New(Options{ConfigPath: path, Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	go s.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &edgeGateway{Server: s, addr: ln.Addr().String(), logs: logs}
}

// echoOrigin answers every request with the client address it was told
// (X-Forwarded-For) and the scheme (X-Forwarded-Proto).
func echoOrigin(t *testing.T) string {
	return startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		fmt.Fprintf(ctx, "%s %s", ctx.Request.Header.Peek("X-Forwarded-For"), ctx.Request.Header.Peek("X-Forwarded-Proto"))
	})
}

const tlsRules = `
server:
  listen: LISTEN
  hosts: [a.test, b.test]
  tls:
    certificates:
      - {cert: a.crt, key: a.key}
      - {cert: b.crt, key: b.key}
    hsts: {max_age: 1h}
    redirect_listen: 127.0.0.1:0
origins:
  shop: {servers: ["%s"]}
routes:
  - {name: all, path: "/*", origin: shop}
`

// tlsGateway starts the gateway of tlsRules with fresh certificates for
// a.test (the default) and b.test.
func tlsGateway(t *testing.T) (g *edgeGateway, dir string, a, b *fgtest.Cert) {
	dir = t.TempDir()
	a = fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
	b = fgtest.WriteCert(t, dir, "b", fgtest.CertOptions{}, "b.test")
	return startEdgeGateway(t, dir, tlsRules, echoOrigin(t)), dir, a, b
}

// tlsClient returns an HTTP client that dials g whatever the URL's host,
// trusting roots, without keep-alive (every request a new handshake).
func (g *edgeGateway) tlsClient(roots *x509.CertPool, conf func(*tls.Config)) *http.Client {
	tc := &tls.Config{RootCAs: roots}
	if conf != nil {
		conf(tc)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tc, DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", g.addr)
		},
	}}
}

// served returns the serial of the certificate g presents for sni.
func (g *edgeGateway) served(t *testing.T, sni string) string {
	t.Helper()
	c, err := tls.Dial("tcp", g.addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %q: %v", sni, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestTLSCertificateBySNI(t *testing.T) {
	g, _, a, b := tlsGateway(t)
	for _, tc := range []struct {
		host string
		cert *fgtest.Cert
	}{{"a.test", a}, {"b.test", b}} {
		resp, err := g.tlsClient(tc.cert.Pool(), nil).Get("https://" + tc.host + "/item/1")
		if err != nil {
			t.Fatalf("GET https://%s/ verifying %s's certificate: %v", tc.host, tc.host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "127.0.0.1 https" {
			t.Errorf("%s: %d %q, want 200 from the origin told 127.0.0.1 over https", tc.host, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=3600" {
			t.Errorf("%s: Strict-Transport-Security %q, want max-age=3600", tc.host, got)
		}
	}
	c, err := tls.Dial("tcp", g.addr, &tls.Config{ServerName: "a.test", RootCAs: a.Pool(), NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("a client offering h2 and http/1.1 by ALPN gets %q, want http/1.1", p)
	}
	c.Close()
	if got := g.served(t, ""); got != a.Serial.String() {
		t.Errorf("no SNI: served serial %s, want the default (a.test) %s", got, a.Serial)
	}
}

// TestTLSCurl: curl (OpenSSL) verifies each name's certificate, and
// cannot get TLS 1.1.
func TestTLSCurl(t *testing.T) {
	curl := needCommand(t, "curl")
	g, dir, _, _ := tlsGateway(t)
	_, port, _ := net.SplitHostPort(g.addr)
	for _, host := range []string{"a.test", "b.test"} {
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}",
			"--resolve", host+":"+port+":127.0.0.1", "--cacert", filepath.Join(dir, host[:1]+".crt"),
			"https://"+host+":"+port+"/").CombinedOutput()
		if err != nil || string(out) != "200 0" {
			t.Errorf("curl https://%s/: %q (%v), want 200 with the certificate verified", host, out, err)
		}
	}
	out, err := exec.Command(curl, "-sS", "-k", "--tlsv1.1", "--tls-max", "1.1", "--resolve", "a.test:"+port+":127.0.0.1",
		"https://a.test:"+port+"/").CombinedOutput()
	if err == nil {
		t.Errorf("curl with TLS 1.1 succeeded: %s", out)
	}
}

// needCommand returns the path of a command the test needs; without it
// the test is skipped, but fails under CI=true.
func needCommand(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is needed (apt-get install %s)", name, name)
	}
	t.Skipf("%s not installed", name)
	return ""
}

func TestTLSWeakProtocolsRefused(t *testing.T) {
	g, _, a, _ := tlsGateway(t)
	for _, tc := range []struct {
		name string
		conf func(*tls.Config)
	}{
		{"TLS 1.0", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 }},
		{"TLS 1.1", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 }},
		{"TLS 1.2 CBC", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
		}},
	} {
		if resp, err := g.tlsClient(a.Pool(), tc.conf).Get("https://a.test/"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: handshake succeeded (%s)", tc.name, tls.VersionName(resp.TLS.Version))
		}
	}
	resp, err := g.tlsClient(a.Pool(), func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }).Get("https://a.test/")
	if err != nil {
		t.Fatalf("TLS 1.2 with its default suites: %v", err)
	}
	resp.Body.Close()
}

// TestTLSRotationUnderLoad: a renewed certificate is served after its
// files change and the rules reload, while clients handshaking all along
// see no failure.
func TestTLSRotationUnderLoad(t *testing.T) {
	g, dir, a, _ := tlsGateway(t)
	next, err := fgtest.MakeCert(fgtest.CertOptions{}, "a.test")
	if err != nil {
		t.Fatal(err)
	}
	roots := a.Pool()
	roots.AddCert(next.Leaf)
	client := g.tlsClient(roots, nil)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ { // bounded, whatever happens
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("https://a.test/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	waitFor(t, func() bool { return ok.Load() >= 40 })
	fgtest.ReplaceFile(t, filepath.Join(dir, "a.crt"), next.CertPEM)
	fgtest.ReplaceFile(t, filepath.Join(dir, "a.key"), next.KeyPEM)
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload after the renewal: %v", err)
	}
	before := ok.Load()
	waitFor(t, func() bool { return ok.Load() >= before+40 })
	close(stop)
	wg.Wait()
	if got := g.served(t, "a.test"); got != next.Serial.String() {
		t.Errorf("after the renewal a.test gets serial %s, want the new %s", got, next.Serial)
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the rotation; first: %v", n, n+ok.Load(), firstErr.Load())
	}
}

// waitFor polls cond (work done by other goroutines, not a timer under
// test) for up to 30 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
	}
}

// TestTLSBrokenCertificateKeepsServing: a certificate file that does not
// parse, or a key that does not go with it, is rejected with the
// setting's file:line, and the last good certificate keeps serving.
func TestTLSBrokenCertificateKeepsServing(t *testing.T) {
	g, dir, a, _ := tlsGateway(t)
	other, err := fgtest.MakeCert(fgtest.CertOptions{}, "a.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		cert, key []byte
		want      string
	}{
		{"truncated certificate", a.CertPEM[:len(a.CertPEM)/2], a.KeyPEM, "gateway.yaml:7:10: server.tls.certificates[0].cert: " + filepath.Join(dir, "a.crt")},
		{"new certificate, old key", other.CertPEM, a.KeyPEM, "gateway.yaml:7:23: server.tls.certificates[0].key: " + filepath.Join(dir, "a.key") + " does not go with"},
	} {
		fgtest.ReplaceFile(t, filepath.Join(dir, "a.crt"), tc.cert)
		fgtest.ReplaceFile(t, filepath.Join(dir, "a.key"), tc.key)
		err := g.Reload()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Reload: %v\nwant an error containing %s", tc.name, err, tc.want)
		}
		if got := g.served(t, "a.test"); got != a.Serial.String() {
			t.Errorf("%s: serial %s served, want the last good %s", tc.name, got, a.Serial)
		}
		if st := g.LastReload(); st.OK {
			t.Errorf("%s: LastReload OK, want the rejection", tc.name)
		}
	}
	if !strings.Contains(g.logs.String(), "still serving rules loaded at") {
		t.Errorf("log does not say the last good rules keep serving:\n%s", g.logs)
	}
}

func TestTLSRedirectListener(t *testing.T) {
	g, _, _, _ := tlsGateway(t)
	ln, err := net.Listen("tcp", g.RedirectListen())
	if err != nil {
		t.Fatal(err)
	}
	go g.ServeRedirect(ln) //nolint:errcheck // returns on shutdown
	_, port, _ := net.SplitHostPort(g.addr)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// A purchase POSTed to the plain port is sent, query and all, to the
	// same URL over HTTPS with 308, which keeps the method and body. (A
	// large body races the listener's close after its answer: the client
	// may see a reset while still writing it, so the body here is small.)
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/buy/1?qty=2", strings.NewReader(strings.Repeat("x", 1024)))
	req.Host = "a.test:80"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://a.test:" + port + "/buy/1?qty=2"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("%d Location %q, want 308 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	req, _ = http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Host = "evil.test/x@"
	if resp, err = client.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("odd Host: %v, want 400", err)
	} else {
		resp.Body.Close()
	}
}

// TestTLSCookiesSecure: a cookie a filter sets (the device cookie) is
// Secure when the client's connection is TLS to the gateway itself.
func TestTLSCookiesSecure(t *testing.T) {
	dir := t.TempDir()
	a := fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
	text := strings.Replace(deviceRules, "server: {trusted_proxies: [10.0.0.0/8]}",
		"server:\n  listen: LISTEN\n  tls: {certificates: [{cert: a.crt, key: a.key}]}", 1)
	g := startEdgeGateway(t, dir, text, echoOrigin(t))
	resp, err := g.tlsClient(a.Pool(), nil).Post("https://a.test/buy/1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || !strings.HasPrefix(set, "fg_device=") || !strings.Contains(set, "; secure") {
		t.Errorf("%d Set-Cookie %q, want 200 with a Secure fg_device cookie", resp.StatusCode, set)
	}
}

// TestTLSBareLFRefused: the bare-LF check reads the decrypted request on a
// TLS connection: a header block ending lines in LF alone gets its 400
// at once, and a well-formed request on the same listener is served.
func TestTLSBareLFRefused(t *testing.T) {
	g, _, a, _ := tlsGateway(t)
	for _, tc := range []struct {
		req, want string
	}{
		{"GET /item/1 HTTP/1.1\nHost: a.test\n\n", "bad_line_ending"},
		{"GET /item/1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", "127.0.0.1 https"},
	} {
		c, err := tls.Dial("tcp", g.addr, &tls.Config{ServerName: "a.test", RootCAs: a.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second)) // well under read_timeout (10s): the answer must not wait for it
		io.WriteString(c, tc.req)
		got, _ := io.ReadAll(c)
		c.Close()
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("%q: answered %q, want %q", tc.req, got, tc.want)
		}
	}
}
