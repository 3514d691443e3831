package rules

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The *Spec types mirror the YAML; load.go and validate.go turn them into
// the Config types. Field types that parse themselves (addresses, CIDRs,
// units) report bad values at the value's own position.

type fileSpec struct {
	Server    serverSpec  `yaml:"server"`
	Logging   loggingSpec `yaml:"logging"`
	Include   []string    `yaml:"include"`
	Origins   Node        `yaml:"origins"`
	Routes    []Node      `yaml:"routes"`
	Cache     Node        `yaml:"cache"`
	Admission Node        `yaml:"admission"`
	Hotspot   Node        `yaml:"hotspot"`
	Demo      *demoSpec   `yaml:"demo"`
	Admin     *adminSpec  `yaml:"admin"`

	// Cluster is validated in cluster.go.
	Cluster *clusterSpec `yaml:"cluster"`
}

// includedSpec is what an included file may hold.
type includedSpec struct {
	Origins Node   `yaml:"origins"`
	Routes  []Node `yaml:"routes"`
}

type serverSpec struct {
	Listen          listenAddr `yaml:"listen"`
	ReadTimeout     Duration   `yaml:"read_timeout"`
	WriteTimeout    Duration   `yaml:"write_timeout"`
	IdleTimeout     Duration   `yaml:"idle_timeout"`
	ShutdownTimeout Duration   `yaml:"shutdown_timeout"`
	MaxHeaderSize   Size       `yaml:"max_header_size"`
	MaxBodySize     Size       `yaml:"max_body_size"`
	MaxConnsPerIP   int        `yaml:"max_conns_per_ip"`
	Concurrency     int        `yaml:"concurrency"`
	TrustedProxies  []cidr     `yaml:"trusted_proxies"`
	Unmatched       string     `yaml:"unmatched"`
	CaseInsensitive bool       `yaml:"case_insensitive"`
	Hosts           []hostName `yaml:"hosts"`
	TLS             Node       `yaml:"tls"`            // rules/tls.go
	ProxyProtocol   Node       `yaml:"proxy_protocol"` // rules/tls.go
}

type loggingSpec struct {
	Level     string `yaml:"level"`
	Format    string `yaml:"format"`
	AccessLog string `yaml:"access_log"`
}

type originSpec struct {
	Servers        []serverAddr       `yaml:"servers"`
	Hosts          []hostName         `yaml:"hosts"`
	HostRewrite    hostHeader         `yaml:"host_rewrite"`
	TLS            bool               `yaml:"tls"`
	Balance        string             `yaml:"balance"`
	ConnectTimeout Duration           `yaml:"connect_timeout"`
	ReadTimeout    Duration           `yaml:"read_timeout"`
	WriteTimeout   Duration           `yaml:"write_timeout"`
	MaxConns       int                `yaml:"max_conns"`
	MaxConnWait    Duration           `yaml:"max_conn_wait"`
	MaxIdleConn    Duration           `yaml:"max_idle_conn"`
	Health         healthSpec         `yaml:"health"`
	Identity       []identitySpec     `yaml:"identity"` // identity.go
	Limit          *originLimitSpec   `yaml:"limit"`
	Breaker        *originBreakerSpec `yaml:"breaker"`
}

type healthSpec struct {
	Path     string   `yaml:"path"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	Fails    int      `yaml:"fails"`
	Passes   int      `yaml:"passes"`
	Status   int      `yaml:"status"`
	AllDown  string   `yaml:"all_down"`
}

type routeSpec struct {
	Name        string     `yaml:"name"`
	Host        hostName   `yaml:"host"`
	Methods     []string   `yaml:"methods"`
	Path        string     `yaml:"path"`
	Origin      string     `yaml:"origin"`
	HostRewrite hostHeader `yaml:"host_rewrite"`
	Timeout     Duration   `yaml:"timeout"`
	MaxBodySize Size       `yaml:"max_body_size"`
	Cache       Node       `yaml:"cache"`
	ESI         Node       `yaml:"esi"`
	Filters     []Node     `yaml:"filters"`
	Priority    string     `yaml:"priority"`
	Bulkhead    int        `yaml:"bulkhead"`
	Fallback    Node       `yaml:"fallback"`
	Pages       Node       `yaml:"pages"`
	Async       Node       `yaml:"async"`
}

type demoSpec struct {
	Listen     listenAddr `yaml:"listen"`
	Mode       string     `yaml:"mode"`
	HoldWindow Duration   `yaml:"hold_window"`
}

// listenAddr is host:port to listen on; the host may be empty (all
// interfaces) and the port 0 (any free port).
type listenAddr string

func (a *listenAddr) UnmarshalText(b []byte) error {
	if _, err := splitHostPort(string(b), true); err != nil {
		return err
	}
	*a = listenAddr(b)
	return nil
}

// serverAddr is an origin server's host:port, both required.
type serverAddr string

func (a *serverAddr) UnmarshalText(b []byte) error {
	host, err := splitHostPort(string(b), false)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("bad address %q: want host:port with a host", b)
	}
	*a = serverAddr(b)
	return nil
}

func splitHostPort(s string, zeroPort bool) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("bad address %q: want host:port, e.g. 127.0.0.1:8080", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !zeroPort) || !isDigits(port) {
		return "", fmt.Errorf("bad port in %q: want 1-65535", s)
	}
	if host != "" && !validHost(host) {
		return "", fmt.Errorf("bad host in %q", s)
	}
	return host, nil
}

// hostName is a DNS name or IP literal without port, stored lowercased.
type hostName string

func (h *hostName) UnmarshalText(b []byte) error {
	s := strings.TrimSuffix(strings.ToLower(string(b)), ".")
	if s == "" && len(b) == 0 {
		*h = ""
		return nil
	}
	if !validHost(s) {
		return fmt.Errorf("bad host %q: want a host name without port or scheme, e.g. shop.example.com", b)
	}
	*h = hostName(s)
	return nil
}

func validHost(s string) bool {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return !a.Is6() || strings.HasPrefix(s, "[") == strings.HasSuffix(s, "]")
	}
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !(c >= 'a' && c <= 'z') && !(label[i] >= '0' && label[i] <= '9') && label[i] != '-' && label[i] != '_' {
				return false
			}
		}
	}
	return true
}

// hostHeader is a Host header value to send upstream: a host with an
// optional port.
type hostHeader string

func (h *hostHeader) UnmarshalText(b []byte) error {
	s := string(b)
	host := s
	if hp, _, err := net.SplitHostPort(s); err == nil {
		if _, err := splitHostPort(s, false); err != nil {
			return err
		}
		host = hp
	}
	if s != "" && !validHost(host) {
		return fmt.Errorf("bad host %q: want host or host:port", s)
	}
	*h = hostHeader(s)
	return nil
}

// cidr is a trusted network: "10.0.0.0/8", or a single address.
type cidr netip.Prefix

func (c *cidr) UnmarshalText(b []byte) error {
	s := string(b)
	if a, err := netip.ParseAddr(s); err == nil {
		*c = cidr(netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("bad CIDR %q: want an address or network, e.g. 10.0.0.0/8 or 2001:db8::/32", s)
	}
	if p.Masked() != p {
		return fmt.Errorf("bad CIDR %q: host bits set, did you mean %s?", s, p.Masked())
	}
	*c = cidr(p)
	return nil
}
