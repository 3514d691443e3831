package rules

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// TLS is server.tls: the public listener speaks TLS with these
// certificates. Package edge parses and checks the certificates (key
// matches, validity, names) when the rules are compiled, so -check and a
// reload refuse the same files.
type TLS struct {
	// Certificates, in file order; the first is the default, served to
	// clients that send no SNI or a name no certificate covers.
	Certificates []*Certificate
	// MinVersion is tls.VersionTLS12 (the default) or tls.VersionTLS13.
	MinVersion uint16
	// RedirectListen, when set, is a plain-HTTP listener that answers
	// every request with 308 to the same URL over https.
	RedirectListen string
	// HSTS is the Strict-Transport-Security answer header; MaxAge 0 = none.
	HSTS HSTS
	Pos  Pos
}

// Certificate is one certificate and key pair. The files are read while
// the rules load: their bytes are part of Config.Digest, so a renewed
// certificate makes the watcher's next look a real reload, and what is
// checked is exactly what is served.
type Certificate struct {
	// Hosts are the names this certificate is chosen for by SNI, and which
	// it must cover; empty means the DNS names the certificate itself lists.
	Hosts    []string // lowercased, "*.example.com" allowed
	CertFile string   // as resolved (relative to the main file's directory)
	KeyFile  string
	CertPEM  []byte
	KeyPEM   []byte
	// Node is the list item, for errors at its keys (cert, key, hosts).
	Node Node
}

// HSTS is the Strict-Transport-Security policy sent on answers over TLS.
type HSTS struct {
	MaxAge            time.Duration
	IncludeSubdomains bool
	Preload           bool
}

// ProxyProtocol is server.proxy_protocol: which peers must open their
// connections with a PROXY protocol header (v1 or v2) naming the client.
type ProxyProtocol struct {
	// Trusted are the balancers' networks. A connection from one of them
	// must start with a PROXY header; any other connection is read as
	// plain HTTP or TLS, so a header it sends is refused as garbage.
	Trusted []netip.Prefix
	// HeaderTimeout bounds the wait for the header, default 5s.
	HeaderTimeout time.Duration
	Pos           Pos
}

type tlsSpec struct {
	Certificates   []Node     `yaml:"certificates"`
	MinVersion     string     `yaml:"min_version"`
	RedirectListen listenAddr `yaml:"redirect_listen"`
	HSTS           hstsSpec   `yaml:"hsts"`
}

type certSpec struct {
	Hosts []tlsHost `yaml:"hosts"`
	Cert  string    `yaml:"cert"`
	Key   string    `yaml:"key"`
}

type hstsSpec struct {
	MaxAge            Duration `yaml:"max_age"`
	IncludeSubdomains bool     `yaml:"include_subdomains"`
	Preload           bool     `yaml:"preload"`
}

type proxyProtocolSpec struct {
	Trusted       []cidr   `yaml:"trusted"`
	HeaderTimeout Duration `yaml:"header_timeout"`
}

// tlsHost is a host name a certificate is chosen for: a DNS name, or a
// wildcard "*.example.com" covering one label.
type tlsHost string

func (h *tlsHost) UnmarshalText(b []byte) error {
	var name hostName
	rest, wild := cutWildcard(string(b))
	if err := name.UnmarshalText([]byte(rest)); err != nil || name == "" {
		return fmt.Errorf("bad host %q: want a DNS name or *.name, e.g. shop.example.com", b)
	}
	if wild {
		name = "*." + name
	}
	*h = tlsHost(name)
	return nil
}

func cutWildcard(s string) (string, bool) {
	if len(s) > 2 && s[:2] == "*." {
		return s[2:], true
	}
	return s, false
}

var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// hstsPreloadMinAge is what the browsers' preload list demands
// (hstspreload.org): a year, with includeSubDomains.
const hstsPreloadMinAge = 365 * 24 * time.Hour

// buildTLS validates server.tls; nil when absent. listen is server.listen.
func (l *loader) buildTLS(n Node, listen string) *TLS {
	if n.IsZero() {
		return nil
	}
	var s tlsSpec
	l.addErr(n.Decode(&s))
	t := &TLS{RedirectListen: string(s.RedirectListen), Pos: n.Pos(),
		HSTS: HSTS{MaxAge: s.HSTS.MaxAge.Duration(), IncludeSubdomains: s.HSTS.IncludeSubdomains, Preload: s.HSTS.Preload}}
	t.MinVersion = tlsVersions[cmp.Or(s.MinVersion, "1.2")]
	if t.MinVersion == 0 {
		l.errs.add(n.Errorf("min_version", "unknown value %q (allowed: 1.2, 1.3; older versions are not offered)", s.MinVersion))
	}
	if t.RedirectListen != "" && t.RedirectListen == listen && !strings.HasSuffix(listen, ":0") {
		l.errs.add(n.Errorf("redirect_listen", "%s is server.listen itself: the redirect listener needs its own port, e.g. 0.0.0.0:80", listen))
	}
	if len(s.Certificates) == 0 {
		l.errs.add(n.Errorf("certificates", "missing: TLS needs at least one certificate (cert: and key: files); the first is the default"))
	}
	for i := range s.Certificates {
		if c := l.buildCertificate(n.Get("certificates").Index(i)); c != nil {
			t.Certificates = append(t.Certificates, c)
		}
	}
	if h := n.Get("hsts"); t.HSTS.Preload && (t.HSTS.MaxAge < hstsPreloadMinAge || !t.HSTS.IncludeSubdomains) {
		l.errs.add(h.Errorf("preload", "preload needs max_age of at least 8760h (a year) and include_subdomains: true"))
	}
	return t
}

func (l *loader) buildCertificate(n Node) *Certificate {
	var s certSpec
	if err := n.Decode(&s); err != nil {
		l.addErr(err)
		return nil
	}
	c := &Certificate{Node: n}
	for _, h := range s.Hosts {
		c.Hosts = append(c.Hosts, string(h))
	}
	c.CertFile, c.CertPEM = l.readTLSFile(n, "cert", s.Cert)
	c.KeyFile, c.KeyPEM = l.readTLSFile(n, "key", s.Key)
	if c.CertPEM == nil || c.KeyPEM == nil {
		return nil
	}
	return c
}

// readTLSFile reads a certificate or key file named by key of n, relative
// to the main file's directory, and adds it to the digest and its
// directory to the watch list (a renewal replaces the file, or swaps the
// symlinks of a Kubernetes secret volume or certbot's live/ directory).
func (l *loader) readTLSFile(n Node, key, name string) (string, []byte) {
	if name == "" {
		l.errs.add(n.Errorf(key, "missing: want the path of a PEM file"))
		return "", nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(l.main), path)
	}
	l.watch(filepath.Dir(path))
	data, err := readRuleFile(path)
	if err != nil {
		l.errs.add(n.Errorf(key, "cannot read %s: %s", path, reason(err)))
		return path, nil
	}
	fmt.Fprintf(l.digest, "%s\x00%d\x00", path, len(data))
	l.digest.Write(data)
	return path, data
}

// buildProxyProtocol validates server.proxy_protocol; nil when absent.
func (l *loader) buildProxyProtocol(n Node) *ProxyProtocol {
	if n.IsZero() {
		return nil
	}
	var s proxyProtocolSpec
	l.addErr(n.Decode(&s))
	p := &ProxyProtocol{HeaderTimeout: orDefault(s.HeaderTimeout, 5*time.Second), Pos: n.Pos()}
	for _, c := range s.Trusted {
		p.Trusted = append(p.Trusted, netip.Prefix(c))
	}
	if len(p.Trusted) == 0 {
		l.errs.add(n.Errorf("trusted", "missing: list the load balancers' addresses or networks, e.g. [10.0.0.0/8]; only they may send a PROXY header"))
	}
	if slices.ContainsFunc(p.Trusted, func(c netip.Prefix) bool { return c.Bits() == 0 }) {
		l.errs.add(n.Errorf("trusted", "a /0 network trusts every client to name any address: list the balancers only"))
	}
	return p
}
