package edge

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"flashgate/rules"
)

// Certs is a compiled server.tls: the parsed certificates indexed by the
// names they serve, and the HSTS header. It is immutable, published with
// the rules snapshot, so a reload swaps certificates and rules together.
// Safe for concurrent use.
type Certs struct {
	def   *tls.Certificate
	exact map[string]*tls.Certificate // "shop.example.com"
	wild  map[string]*tls.Certificate // "example.com" for "*.example.com"
	hsts  []byte                      // Strict-Transport-Security value; nil = none
	// notAfter is the earliest expiry of the certificates.
	notAfter time.Time
}

// Compile parses and checks every certificate of t at time now: the PEM
// parses, the key matches the certificate, now is within its validity, it
// covers the names it is listed for, and every name of hosts
// (server.hosts) is covered by some certificate. Every problem is
// reported at once, as rules.Errors naming the setting's file:line:col.
func Compile(t *rules.TLS, hosts []string, now time.Time) (*Certs, error) {
	c := &Certs{exact: map[string]*tls.Certificate{}, wild: map[string]*tls.Certificate{}, hsts: hstsValue(t.HSTS)}
	var errs rules.Errors
	for _, spec := range t.Certificates {
		cert, err := load(spec, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.index(spec, cert)
	}
	if len(errs) == 0 {
		for _, h := range hosts {
			if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
				continue // clients send no SNI for an address; they get the default
			}
			if c.lookup(h) == nil {
				errs = append(errs, &rules.Error{Pos: t.Pos, Path: "server.tls.certificates",
					Msg: "server.hosts lists " + strconv.Quote(h) + ", which no certificate covers: browsers would refuse the default certificate for it"})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// load parses one certificate and key pair and checks it.
func load(spec *rules.Certificate, now time.Time) (*tls.Certificate, *rules.Error) {
	n := spec.Node
	leaf, err := parseLeaf(spec.CertPEM)
	if err != nil {
		return nil, n.Errorf("cert", "%s: %v", spec.CertFile, err)
	}
	cert, err := tls.X509KeyPair(spec.CertPEM, spec.KeyPEM)
	if err != nil {
		return nil, n.Errorf("key", "%s does not go with %s: %s", spec.KeyFile, spec.CertFile, strings.TrimPrefix(err.Error(), "tls: "))
	}
	switch {
	case now.Before(leaf.NotBefore):
		return nil, n.Errorf("cert", "%s is not valid before %s", spec.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return nil, n.Errorf("cert", "%s expired at %s", spec.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, h := range spec.Hosts {
		if !covers(leaf, h) {
			return nil, n.Errorf("hosts", "%s does not cover %q (it covers: %s)", spec.CertFile, h, strings.Join(leaf.DNSNames, ", "))
		}
	}
	if len(spec.Hosts) == 0 && len(leaf.DNSNames) == 0 {
		return nil, n.Errorf("cert", "%s names no DNS host (subjectAltName); list hosts: or use a certificate with names", spec.CertFile)
	}
	cert.Leaf = leaf
	return &cert, nil
}

// parseLeaf returns the first certificate of a PEM file.
func parseLeaf(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block (is it the key, or DER?)")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// covers reports whether leaf serves host: an exact or wildcard match for
// a name, or the same wildcard listed for "*.name".
func covers(leaf *x509.Certificate, host string) bool {
	if strings.HasPrefix(host, "*.") {
		for _, n := range leaf.DNSNames {
			if strings.EqualFold(n, host) {
				return true
			}
		}
		return false
	}
	return leaf.VerifyHostname(host) == nil
}

// index records cert under the names it serves: its listed hosts, or its
// own DNS names. The first certificate is the default; a name listed twice
// keeps its first certificate, as file order is the operator's priority.
func (c *Certs) index(spec *rules.Certificate, cert *tls.Certificate) {
	if c.def == nil {
		c.def = cert
	}
	if c.notAfter.IsZero() || cert.Leaf.NotAfter.Before(c.notAfter) {
		c.notAfter = cert.Leaf.NotAfter
	}
	names := spec.Hosts
	if len(names) == 0 {
		names = cert.Leaf.DNSNames
	}
	for _, h := range names {
		h = strings.ToLower(h)
		m, key := c.exact, h
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			m, key = c.wild, rest
		}
		if m[key] == nil {
			m[key] = cert
		}
	}
}

// lookup returns the certificate for a host name, or nil.
func (c *Certs) lookup(name string) *tls.Certificate {
	if cert := c.exact[name]; cert != nil {
		return cert
	}
	if _, parent, ok := strings.Cut(name, "."); ok {
		return c.wild[parent]
	}
	return nil
}

// Get chooses the certificate for a handshake: the one serving the SNI
// name (exact, then wildcard), else the default. It never fails, so a
// client with no or an unknown SNI still completes the handshake and can
// be told what is wrong (or served, if it does not verify the name).
func (c *Certs) Get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(hello.ServerName, ".")
	if cert := c.lookup(strings.ToLower(name)); cert != nil {
		return cert, nil
	}
	return c.def, nil
}

// NotAfter returns the earliest expiry of the certificates: the day a
// renewal is due by.
func (c *Certs) NotAfter() time.Time { return c.notAfter }

// HSTS returns the Strict-Transport-Security header value, nil when
// server.tls.hsts is off. The bytes must not be modified.
func (c *Certs) HSTS() []byte { return c.hsts }

func hstsValue(h rules.HSTS) []byte {
	if h.MaxAge <= 0 {
		return nil
	}
	b := strconv.AppendInt([]byte("max-age="), int64(h.MaxAge/time.Second), 10)
	if h.IncludeSubdomains {
		b = append(b, "; includeSubDomains"...)
	}
	if h.Preload {
		b = append(b, "; preload"...)
	}
	return b
}
