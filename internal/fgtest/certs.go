package fgtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a self-signed test certificate (it is its own CA) written as
// PEM files.
type Cert struct {
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
	Serial            *big.Int
	Leaf              *x509.Certificate
}

// CertOptions shape a test certificate. Zero values give a certificate
// valid from an hour ago for a day.
type CertOptions struct {
	NotBefore, NotAfter time.Time
}

// WriteCert makes an ECDSA P-256 certificate for names (DNS names and IP
// literals) and writes it to dir/base.crt and dir/base.key, replacing
// both files by rename so that a reader sees the old pair or the new one.
func WriteCert(t testing.TB, dir, base string, opt CertOptions, names ...string) *Cert {
	t.Helper()
	c, err := MakeCert(opt, names...)
	if err != nil {
		t.Fatal(err)
	}
	c.CertFile, c.KeyFile = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	ReplaceFile(t, c.CertFile, c.CertPEM)
	ReplaceFile(t, c.KeyFile, c.KeyPEM)
	return c
}

// MakeCert is WriteCert without the files.
func MakeCert(opt CertOptions, names ...string) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	if !opt.NotBefore.IsZero() {
		tmpl.NotBefore = opt.NotBefore
	}
	if !opt.NotAfter.IsZero() {
		tmpl.NotAfter = opt.NotAfter
	}
	for _, n := range names {
		if ip := parseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		Serial:  serial, Leaf: leaf,
	}, nil
}

// Pool returns a certificate pool trusting c.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Leaf)
	return p
}

// ReplaceFile writes data to a temporary file beside name and renames it
// over name, as certbot and editors do.
func ReplaceFile(t testing.TB, name string, data []byte) {
	t.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

func parseIP(s string) []byte {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.AsSlice()
	}
	return nil
}
