package edge_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flashgate/edge"
	"flashgate/internal/fgtest"
	"flashgate/rules"
)

// loadTLS writes gateway.yaml with the given server: body into dir and
// loads it, as -check and a reload do.
func loadTLS(t *testing.T, dir, server string) (*rules.Config, error) {
	t.Helper()
	path := filepath.Join(dir, "gateway.yaml")
	text := "server:\n" + server + "origins:\n  shop: {servers: [\"127.0.0.1:9\"]}\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return rules.Load(path)
}

func TestCertsChooseBySNI(t *testing.T) {
	dir := t.TempDir()
	a := fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
	b := fgtest.WriteCert(t, dir, "b", fgtest.CertOptions{}, "b.test", "*.b.test")
	cfg, err := loadTLS(t, dir, `  hosts: [a.test, b.test, x.b.test, 127.0.0.1]
  tls:
    certificates:
      - {cert: a.crt, key: a.key}
      - {cert: b.crt, key: b.key}
`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := edge.Compile(cfg.Server.TLS, cfg.Server.Hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := a.Leaf.NotAfter
	if b.Leaf.NotAfter.Before(want) {
		want = b.Leaf.NotAfter
	}
	if !c.NotAfter().Equal(want) {
		t.Errorf("NotAfter %s, want the earliest expiry %s", c.NotAfter(), want)
	}
	for _, tc := range []struct {
		sni  string
		want *fgtest.Cert
	}{
		{"a.test", a}, {"b.test", b}, {"B.Test.", b}, {"x.b.test", b},
		{"y.x.b.test", a}, // a wildcard covers one label only
		{"", a}, {"other.test", a},
	} {
		got, err := c.Get(&tls.ClientHelloInfo{ServerName: tc.sni})
		if err != nil || got.Leaf.SerialNumber.Cmp(tc.want.Serial) != 0 {
			t.Errorf("SNI %q: got %v (err %v), want %s's certificate", tc.sni, got.Leaf.DNSNames, err, tc.want.Leaf.DNSNames)
		}
	}
}

func TestCertsHSTS(t *testing.T) {
	dir := t.TempDir()
	fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
	cfg, err := loadTLS(t, dir, `  tls:
    certificates: [{cert: a.crt, key: a.key}]
    hsts: {max_age: 8760h, include_subdomains: true, preload: true}
`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := edge.Compile(cfg.Server.TLS, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(c.HSTS()), "max-age=31536000; includeSubDomains; preload"; got != want {
		t.Errorf("HSTS %q, want %q", got, want)
	}
}

// TestCertsRefused: every problem -check must find, positioned at the
// setting that names the file.
func TestCertsRefused(t *testing.T) {
	hour := time.Hour
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		tls   string
		want  string // after "gateway.yaml:"
	}{
		{"key of another certificate", func(t *testing.T, dir string) {
			a := fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
			b := fgtest.WriteCert(t, dir, "b", fgtest.CertOptions{}, "a.test")
			fgtest.ReplaceFile(t, a.KeyFile, b.KeyPEM)
		}, `[{cert: a.crt, key: a.key}]`, "5:23: server.tls.certificates[0].key: " + "DIR/a.key does not go with DIR/a.crt: private key does not match public key"},
		{"expired", func(t *testing.T, dir string) {
			fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{NotBefore: time.Now().Add(-48 * hour), NotAfter: time.Now().Add(-hour)}, "a.test")
		}, `[{cert: a.crt, key: a.key}]`, "5:10: server.tls.certificates[0].cert: DIR/a.crt expired at"},
		{"not yet valid", func(t *testing.T, dir string) {
			fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{NotBefore: time.Now().Add(hour)}, "a.test")
		}, `[{cert: a.crt, key: a.key}]`, "5:10: server.tls.certificates[0].cert: DIR/a.crt is not valid before"},
		{"name not covered", func(t *testing.T, dir string) {
			fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
		}, `[{hosts: [shop.test], cert: a.crt, key: a.key}]`, `5:10: server.tls.certificates[0].hosts: DIR/a.crt does not cover "shop.test" (it covers: a.test)`},
		{"server.hosts not covered", func(t *testing.T, dir string) {
			fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
		}, `[{cert: a.crt, key: a.key}]`, `4:5: server.tls.certificates: server.hosts lists "b.test", which no certificate covers`},
		{"not PEM", func(t *testing.T, dir string) {
			fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
			fgtest.ReplaceFile(t, filepath.Join(dir, "a.crt"), []byte("garbage\n"))
		}, `[{cert: a.crt, key: a.key}]`, "5:10: server.tls.certificates[0].cert: DIR/a.crt: no PEM CERTIFICATE block"},
		{"key where the certificate goes", func(t *testing.T, dir string) {
			a := fgtest.WriteCert(t, dir, "a", fgtest.CertOptions{}, "a.test")
			fgtest.ReplaceFile(t, a.CertFile, a.KeyPEM)
		}, `[{cert: a.crt, key: a.key}]`, "5:10: server.tls.certificates[0].cert: DIR/a.crt: no PEM CERTIFICATE block (is it the key, or DER?)"},
		{"missing file", func(t *testing.T, dir string) {}, `[{cert: a.crt, key: a.key}]`,
			"5:10: server.tls.certificates[0].cert: cannot read DIR/a.crt: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			cfg, err := loadTLS(t, dir, fmt.Sprintf("  hosts: [a.test, b.test]\n  tls:\n    certificates:\n      - %s\n", strings.Trim(tc.tls, "[]")))
			if err == nil {
				_, err = edge.Compile(cfg.Server.TLS, []string{"a.test", "b.test"}[:hostsFor(tc.name)], time.Now())
			}
			want := filepath.Join(dir, "gateway.yaml") + ":" + strings.ReplaceAll(tc.want, "DIR", dir)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %v\nwant %s…", err, want)
			}
		})
	}
}

// hostsFor: the server.hosts case checks both names; the others one.
func hostsFor(name string) int {
	if name == "server.hosts not covered" {
		return 2
	}
	return 1
}
