package rules

import (
	"errors"

	"go.yaml.in/yaml/v4"
)

// Dump writes the effective configuration, defaults filled in and includes
// merged, as one YAML file that Load reads back to an equal Config (for
// `flashgate -check -dump` and the round-trip fuzz test). Positions,
// comments and anchors are not kept.
func (c *Config) Dump() ([]byte, error) {
	e := &expander{budget: maxDumpNodes}
	d := dumpFile{
		Server:    dumpServerOf(c.Server),
		Logging:   dumpLogging(c.Logging),
		Origins:   map[string]dumpOrigin{},
		Cache:     e.node(c.Cache),
		Admission: e.node(c.Admission),
		Hotspot:   e.node(c.Hotspot),
	}
	for _, o := range c.Origins {
		d.Origins[o.Name] = dumpOriginOf(o)
	}
	for _, r := range c.Routes {
		d.Routes = append(d.Routes, dumpRouteOf(r, e))
	}
	if c.Demo != nil {
		d.Demo = &dumpDemo{Listen: c.Demo.Listen}
		if c.Demo.Mode != "order" {
			d.Demo.Mode = c.Demo.Mode
		}
		if c.Demo.HoldWindow > 0 {
			d.Demo.HoldWindow = c.Demo.HoldWindow.String()
		}
	}
	d.Admin = dumpAdminOf(c.Admin)
	if e.budget < 0 {
		return nil, errTooLarge
	}
	return yaml.Dump(&d)
}

type dumpFile struct {
	Server    dumpServer            `yaml:"server"`
	Logging   dumpLogging           `yaml:"logging"`
	Origins   map[string]dumpOrigin `yaml:"origins,omitempty"`
	Routes    []dumpRoute           `yaml:"routes,omitempty"`
	Cache     *yaml.Node            `yaml:"cache,omitempty"`
	Admission *yaml.Node            `yaml:"admission,omitempty"`
	Hotspot   *yaml.Node            `yaml:"hotspot,omitempty"`
	Demo      *dumpDemo             `yaml:"demo,omitempty"`
	Admin     *dumpAdmin            `yaml:"admin,omitempty"`
}

type dumpServer struct {
	Listen          string   `yaml:"listen"`
	ReadTimeout     Duration `yaml:"read_timeout"`
	WriteTimeout    Duration `yaml:"write_timeout"`
	IdleTimeout     Duration `yaml:"idle_timeout"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	MaxHeaderSize   Size     `yaml:"max_header_size"`
	MaxBodySize     Size     `yaml:"max_body_size"`
	MaxConnsPerIP   int      `yaml:"max_conns_per_ip"`
	Concurrency     int      `yaml:"concurrency"`
	TrustedProxies  []string `yaml:"trusted_proxies,omitempty"`
	Unmatched       string   `yaml:"unmatched"`
	CaseInsensitive bool     `yaml:"case_insensitive"`
	Hosts           []string `yaml:"hosts,omitempty"`
}

func dumpServerOf(s Server) dumpServer {
	d := dumpServer{
		Listen: s.Listen, ReadTimeout: Duration(s.ReadTimeout), WriteTimeout: Duration(s.WriteTimeout),
		IdleTimeout: Duration(s.IdleTimeout), ShutdownTimeout: Duration(s.ShutdownTimeout),
		MaxHeaderSize: Size(s.MaxHeaderBytes), MaxBodySize: Size(s.MaxBodyBytes),
		MaxConnsPerIP: s.MaxConnsPerIP, Concurrency: s.Concurrency,
		Unmatched: s.Unmatched, CaseInsensitive: s.CaseInsensitive, Hosts: s.Hosts,
	}
	for _, p := range s.TrustedProxies {
		d.TrustedProxies = append(d.TrustedProxies, p.String())
	}
	return d
}

type dumpLogging struct {
	Level     string `yaml:"level"`
	Format    string `yaml:"format"`
	AccessLog string `yaml:"access_log,omitempty"`
}

type dumpOrigin struct {
	Servers        []string           `yaml:"servers"`
	Hosts          []string           `yaml:"hosts,omitempty"`
	HostRewrite    string             `yaml:"host_rewrite,omitempty"`
	TLS            bool               `yaml:"tls"`
	Balance        string             `yaml:"balance"`
	ConnectTimeout Duration           `yaml:"connect_timeout"`
	ReadTimeout    Duration           `yaml:"read_timeout"`
	WriteTimeout   Duration           `yaml:"write_timeout"`
	MaxConns       int                `yaml:"max_conns"`
	MaxConnWait    Duration           `yaml:"max_conn_wait"`
	MaxIdleConn    Duration           `yaml:"max_idle_conn"`
	Health         dumpHealth         `yaml:"health"`
	Identity       []identitySpec     `yaml:"identity,omitempty"`
	Limit          *originLimitSpec   `yaml:"limit,omitempty"`
	Breaker        *originBreakerSpec `yaml:"breaker,omitempty"`
}

type dumpHealth struct {
	Path     string   `yaml:"path,omitempty"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	Fails    int      `yaml:"fails"`
	Passes   int      `yaml:"passes"`
	Status   int      `yaml:"status"`
}

func dumpOriginOf(o *Origin) dumpOrigin {
	h := o.Health
	d := dumpOrigin{
		Servers: o.Servers, Hosts: o.Hosts, HostRewrite: o.HostRewrite, TLS: o.TLS, Balance: o.Balance,
		ConnectTimeout: Duration(o.ConnectTimeout), ReadTimeout: Duration(o.ReadTimeout),
		WriteTimeout: Duration(o.WriteTimeout), MaxConns: o.MaxConns, MaxConnWait: Duration(o.MaxConnWait),
		MaxIdleConn: Duration(o.MaxIdleConn),
		Health: dumpHealth{Path: h.Path, Interval: Duration(h.Interval), Timeout: Duration(h.Timeout),
			Fails: h.Fails, Passes: h.Passes, Status: h.Status},
		Identity: dumpIdentity(o.Identity),
	}
	if lim := o.Limit; lim.Max > 0 {
		d.Limit = &originLimitSpec{Max: lim.Max, Adaptive: lim.Adaptive, Min: lim.Min, Wait: Duration(lim.Wait)}
	}
	if b := o.Breaker; b.Failures > 0 {
		d.Breaker = &originBreakerSpec{Failures: b.Failures, Open: Duration(b.Open), Probes: b.Probes}
	}
	return d
}

func dumpIdentity(ids []OriginIdentity) []identitySpec {
	var out []identitySpec
	for _, id := range ids {
		out = append(out, identitySpec{Header: id.Header, From: id.From})
	}
	return out
}

type dumpRoute struct {
	Name        string       `yaml:"name"`
	Host        string       `yaml:"host,omitempty"`
	Methods     []string     `yaml:"methods,omitempty,flow"`
	Path        string       `yaml:"path"`
	Origin      string       `yaml:"origin"`
	HostRewrite string       `yaml:"host_rewrite,omitempty"`
	Timeout     Duration     `yaml:"timeout,omitempty"`
	MaxBodySize Size         `yaml:"max_body_size,omitempty"`
	Cache       *yaml.Node   `yaml:"cache,omitempty"`
	ESI         *yaml.Node   `yaml:"esi,omitempty"`
	Filters     []*yaml.Node `yaml:"filters,omitempty"`
	Priority    string       `yaml:"priority,omitempty"`
	Bulkhead    int          `yaml:"bulkhead,omitempty"`
	Fallback    *yaml.Node   `yaml:"fallback,omitempty"`
}

func dumpRouteOf(r *Route, e *expander) dumpRoute {
	d := dumpRoute{
		Name: r.Name, Host: r.Host, Methods: r.Methods, Path: r.Path, Origin: r.Origin,
		HostRewrite: r.HostRewrite, Timeout: Duration(r.Timeout), MaxBodySize: Size(r.MaxBodyBytes),
		Cache: e.node(r.Cache), ESI: e.node(r.ESI), Priority: r.Priority, Bulkhead: r.Bulkhead, Fallback: e.node(r.Fallback),
	}
	for _, f := range r.Filters {
		d.Filters = append(d.Filters, e.node(f))
	}
	return d
}

type dumpDemo struct {
	Listen     string `yaml:"listen"`
	Mode       string `yaml:"mode,omitempty"`
	HoldWindow string `yaml:"hold_window,omitempty"`
}

// maxDumpNodes bounds alias expansion in Dump, as maxDecodeNodes does for
// decoding: opaque sections are not decoded by Load, so they are bounded here.
const maxDumpNodes = 1 << 20

var errTooLarge = errors.New("rules: config too large to dump after alias expansion")

// expander copies nodes with aliases expanded and comments dropped, so that
// the dump stands alone; it gives up after maxDumpNodes nodes.
type expander struct {
	budget int
}

func (e *expander) node(n Node) *yaml.Node {
	if n.IsZero() {
		return nil
	}
	return e.copy(n.n)
}

func (e *expander) copy(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	if e.budget--; e.budget < 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	c := &yaml.Node{Kind: n.Kind, Style: n.Style &^ yaml.TaggedStyle, Tag: n.Tag, Value: n.Value}
	for _, ch := range n.Content {
		c.Content = append(c.Content, e.copy(ch))
	}
	return c
}
