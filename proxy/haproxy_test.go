package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// TestProxyProtocolFromHAProxy: a real HAProxy in TCP mode in front of the
// gateway, sending PROXY v1 (send-proxy) or v2 (send-proxy-v2), its
// health checks sending the header too (check-send-proxy): the origin is
// told the address of the client that connected to HAProxy (127.0.0.2),
// not HAProxy's own (127.0.0.1), and no connection is refused.
func TestProxyProtocolFromHAProxy(t *testing.T) {
	haproxy := needCommand(t, "haproxy")
	for _, tc := range []struct{ name, send string }{{"v1", "send-proxy"}, {"v2", "send-proxy-v2"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a := fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
			text := strings.ReplaceAll(proxyRules, "TRUSTED", "127.0.0.1")
			text = strings.Replace(text, "  proxy_protocol:", "  tls: {certificates: [{cert: a.crt, key: a.key}]}\n  proxy_protocol:", 1)
			g := startEdgeGateway(t, dir, text, echoOrigin(t))
			front := startHAProxy(t, haproxy, dir, fmt.Sprintf(
				"server fg %s %s source 127.0.0.1 check check-send-proxy check-ssl verify none inter 100ms", g.addr, tc.send))

			// A client at 127.0.0.2: Linux answers the whole of 127/8 on lo.
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: a.Pool()}, DisableKeepAlives: true,
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", front) },
			}}
			var body string
			for deadline := time.Now().Add(20 * time.Second); body == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				resp, err := client.Get("https://a.test/echo")
				if err != nil {
					continue // HAProxy is still marking the server up
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					body = string(b)
				}
			}
			if body != "127.0.0.2 https" {
				t.Errorf("origin told %q, want the client 127.0.0.2 over https", body)
			}
			var m strings.Builder
			g.WritePrometheus(&m)
			if !strings.Contains(m.String(), `flashgate_edge_refused_total{reason="proxy_protocol"} 0`) {
				t.Errorf("connections from HAProxy were refused (its health checks?):\n%s", grepLines(m.String(), "refused"))
			}
		})
	}
}

// startHAProxy runs HAProxy in TCP mode on a free loopback port with one
// backend server line; it is stopped (by its PID) when the test ends.
func startHAProxy(t *testing.T, haproxy, dir, server string) string {
	t.Helper()
	front := deadAddr(t)
	cfg := fmt.Sprintf(`global
  maxconn 100
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend f
  bind %s
  default_backend b
backend b
  %s
`, front, server)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-db", "-f", path)
	out := &fgtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out)
		}
	})
	return front
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
