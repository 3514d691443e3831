package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

const tlsRules = `server:
  listen: 127.0.0.1:0
  hosts: [a.test]
  tls:
    certificates:
      - {cert: tls/a.crt, key: tls/a.key}
    redirect_listen: 127.0.0.1:0
origins:
  shop: {servers: ["%s"]}
routes:
  - {name: page, path: "/page", origin: shop}
`

// TestCheckTLSFiles: -check reads and checks the certificate files, and
// names the setting's file:line for a problem.
func TestCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(tlsRules, "127.0.0.1:9"))
	if err := os.Mkdir(filepath.Join(dir, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	fgtest.WriteCert(t, filepath.Join(dir, "tls"), "a", fgtest.CertOptions{}, "a.test")
	var out, errOut strings.Builder
	if code := run([]string{"-check", "-config", path}, &out, &errOut); code != 0 || out.String() != "ok\n" {
		t.Fatalf("-check with a good certificate: exit %d, %q %q", code, out.String(), errOut.String())
	}
	fgtest.WriteCert(t, filepath.Join(dir, "tls"), "a", fgtest.CertOptions{NotAfter: time.Now().Add(-time.Minute)}, "a.test")
	out.Reset()
	code := run([]string{"-check", "-config", path}, &out, &errOut)
	want := path + ":6:10: server.tls.certificates[0].cert: " + filepath.Join(dir, "tls", "a.crt") + " expired at "
	if code != 1 || !strings.HasPrefix(errOut.String(), want) {
		t.Fatalf("-check with an expired certificate: exit %d, stderr %q, want it to start %q", code, errOut.String(), want)
	}
}

var (
	httpsLine    = regexp.MustCompile(`flashgate\s+https://([0-9.:]+)/`)
	redirectLine = regexp.MustCompile(`redirect to https\s+http://([0-9.:]+)/`)
)

// TestTLSRenewalWithoutRestart runs the command with TLS and replaces the
// certificate's files, as certbot or cert-manager do: the watcher sees the
// change and the new certificate is served, with no signal and no
// restart. The redirect listener answers beside it.
func TestTLSRenewalWithoutRestart(t *testing.T) {
	origin := startOrigin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(tlsRules, origin))
	if err := os.Mkdir(filepath.Join(dir, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := fgtest.WriteCert(t, filepath.Join(dir, "tls"), "a", fgtest.CertOptions{}, "a.test")

	var stdout, stderr fgtest.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"-config", path}, &stdout, &stderr) }()
	var addr, redirect string
	for deadline := time.Now().Add(10 * time.Second); addr == "" || redirect == ""; time.Sleep(5 * time.Millisecond) {
		if m := httpsLine.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
		if m := redirectLine.FindStringSubmatch(stdout.String()); m != nil {
			redirect = m[1]
		}
		select {
		case code := <-exit:
			t.Fatalf("exited with %d; stderr:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no https and redirect addresses printed: %q", stdout.String())
		}
	}
	serial := func() string {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != old.Serial.String() {
		t.Fatalf("serving serial %s, want %s", got, old.Serial)
	}
	renewed := fgtest.WriteCert(t, filepath.Join(dir, "tls"), "a", fgtest.CertOptions{}, "a.test")
	for deadline := time.Now().Add(10 * time.Second); serial() != renewed.Serial.String(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate is not served after 10s; stderr:\n%s", stderr.String())
		}
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+redirect+"/page?x=1", nil)
	req.Host = "a.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := strings.Cut(addr, ":")
	if want := "https://a.test:" + port + "/page?x=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("redirect listener: %d %q, want 308 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flashgate did not stop after SIGTERM")
	}
}
