package rules

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Allowed values, listed in error messages.
var (
	knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	logLevels    = []string{"debug", "info", "warn", "error"}
	logFormats   = []string{"text", "json"}
	balances     = []string{"round_robin", "least_conn"}
)

// build validates the decoded specs and fills c, defaults included.
func (l *loader) build(c *Config, root Node, spec *fileSpec) {
	c.Origins = l.buildOrigins()
	known := make([]string, len(c.Origins))
	for i, o := range c.Origins {
		known[i] = o.Name
	}
	c.Server = l.buildServer(root.Get("server"), &spec.Server, known)
	c.Logging = l.buildLogging(root.Get("logging"), spec.Logging)
	c.Routes = l.buildRoutes(known, c.Server.CaseInsensitive)
	c.Admin = l.buildAdmin(root.Get("admin"), spec.Admin, c.Server.Listen)
	c.Cluster = l.buildCluster(root, spec.Cluster)
	if spec.Demo != nil {
		c.Demo = &Demo{Listen: string(spec.Demo.Listen), Pos: root.Get("demo").Pos()}
		if c.Demo.Listen == "" {
			l.errs.add(root.Get("demo").Errorf("listen", "missing: want host:port, e.g. 127.0.0.1:9081"))
		}
		l.buildDemoModes(c.Demo, root.Get("demo"), spec.Demo)
	}
}

func (l *loader) buildServer(n Node, s *serverSpec, origins []string) Server {
	srv := Server{
		Listen:          cmp.Or(string(s.Listen), "127.0.0.1:8080"),
		ReadTimeout:     orDefault(s.ReadTimeout, 10*time.Second),
		WriteTimeout:    orDefault(s.WriteTimeout, 30*time.Second),
		IdleTimeout:     orDefault(s.IdleTimeout, 60*time.Second),
		ShutdownTimeout: orDefault(s.ShutdownTimeout, 15*time.Second),
		MaxHeaderBytes:  cmp.Or(s.MaxHeaderSize.Bytes(), 16<<10),
		MaxBodyBytes:    cmp.Or(s.MaxBodySize.Bytes(), 1<<20),
		MaxConnsPerIP:   s.MaxConnsPerIP,
		Concurrency:     cmp.Or(s.Concurrency, 256*1024),
		Unmatched:       cmp.Or(s.Unmatched, "deny"),
		CaseInsensitive: s.CaseInsensitive,
		Pos:             n.Pos(),
	}
	for _, p := range s.TrustedProxies {
		srv.TrustedProxies = append(srv.TrustedProxies, netip.Prefix(p))
	}
	for _, h := range s.Hosts {
		srv.Hosts = append(srv.Hosts, string(h))
	}
	srv.TLS = l.buildTLS(n.Get("tls"), srv.Listen)
	srv.ProxyProtocol = l.buildProxyProtocol(n.Get("proxy_protocol"))
	l.nonNegative(n, "max_conns_per_ip", s.MaxConnsPerIP)
	l.nonNegative(n, "concurrency", s.Concurrency)
	if srv.Unmatched != "deny" && !slices.Contains(origins, srv.Unmatched) {
		l.errs.add(n.Errorf("unmatched", "unknown origin %q (want deny or an origin: %s)", srv.Unmatched, list(origins)))
	}
	return srv
}

func (l *loader) buildLogging(n Node, s loggingSpec) Logging {
	lg := Logging{Level: cmp.Or(s.Level, "info"), Format: cmp.Or(s.Format, "text"), AccessLog: s.AccessLog}
	l.oneOf(n, "level", lg.Level, logLevels)
	l.oneOf(n, "format", lg.Format, logFormats)
	return lg
}

// buildOrigins collects the origins of every file, sorted by name.
func (l *loader) buildOrigins() []*Origin {
	var out []*Origin
	byName := map[string]*Origin{}
	for _, m := range l.origins {
		var nodes map[string]Node
		if err := m.Decode(&nodes); err != nil {
			l.addErr(err)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(nodes)) {
			o := l.buildOrigin(m, name, nodes[name])
			if first := byName[name]; first != nil {
				l.errs.add(m.Errorf(name, "origin %q already defined at %s", name, first.Pos))
				continue
			}
			byName[name] = o
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *Origin) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (l *loader) buildOrigin(parent Node, name string, n Node) *Origin {
	var s originSpec
	l.addErr(n.Decode(&s))
	o := &Origin{
		Name:           name,
		HostRewrite:    string(s.HostRewrite),
		TLS:            s.TLS,
		Balance:        cmp.Or(s.Balance, "round_robin"),
		ConnectTimeout: orDefault(s.ConnectTimeout, time.Second),
		ReadTimeout:    orDefault(s.ReadTimeout, 10*time.Second),
		WriteTimeout:   orDefault(s.WriteTimeout, 5*time.Second),
		MaxConns:       cmp.Or(s.MaxConns, 512),
		MaxConnWait:    orDefault(s.MaxConnWait, 100*time.Millisecond),
		MaxIdleConn:    orDefault(s.MaxIdleConn, 30*time.Second),
		Pos:            parent.Errorf(name, "").Pos,
	}
	for _, a := range s.Servers {
		o.Servers = append(o.Servers, string(a))
	}
	for _, h := range s.Hosts {
		o.Hosts = append(o.Hosts, string(h))
	}
	if !validName(name) {
		l.errs.add(parent.Errorf(name, "bad origin name %q: want letters, digits, '_', '-' or '.'", name))
	}
	if k, _ := n.lookup("servers"); k == nil && !n.IsZero() {
		l.errs.add(n.Errorf("servers", "missing: an origin needs at least one host:port"))
	} else if n.IsZero() {
		l.errs.add(parent.Errorf(name, "origin %q has no settings: it needs at least servers: [host:port]", name))
	}
	l.oneOf(n, "balance", o.Balance, balances)
	l.nonNegative(n, "max_conns", s.MaxConns)
	o.Health = l.buildHealth(n.Get("health"), s.Health)
	o.Limit = l.buildLimit(n.Get("limit"), s.Limit)
	o.Breaker = l.buildBreaker(n.Get("breaker"), s.Breaker)
	o.Identity = l.buildIdentity(n.Get("identity"), s.Identity)
	return o
}

func (l *loader) buildHealth(n Node, s healthSpec) HealthCheck {
	h := HealthCheck{
		Path:     s.Path,
		Interval: orDefault(s.Interval, 2*time.Second),
		Timeout:  orDefault(s.Timeout, time.Second),
		Fails:    cmp.Or(s.Fails, 2),
		Passes:   cmp.Or(s.Passes, 2),
		Status:   cmp.Or(s.Status, 200),
		AllDown:  cmp.Or(s.AllDown, AllDownSend),
	}
	l.oneOf(n, "all_down", h.AllDown, []string{AllDownSend, AllDownRefuse})
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		l.errs.add(n.Errorf("path", "health check path %q must start with \"/\"", h.Path))
	}
	if h.Status < 100 || h.Status > 599 {
		l.errs.add(n.Errorf("status", "status %d: want 100-599", h.Status))
	}
	if h.Timeout > h.Interval {
		l.errs.add(n.Errorf("timeout", "timeout %s is longer than interval %s", h.Timeout, h.Interval))
	}
	l.nonNegative(n, "fails", s.Fails)
	l.nonNegative(n, "passes", s.Passes)
	return h
}

func (l *loader) nonNegative(n Node, key string, v int) {
	if v < 0 {
		l.errs.add(n.Errorf(key, "%d is negative", v))
	}
}

func (l *loader) oneOf(n Node, key, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		l.errs.add(n.Errorf(key, "unknown value %q (allowed: %s)", v, list(allowed)))
	}
}

func orDefault(d Duration, def time.Duration) time.Duration {
	return cmp.Or(d.Duration(), def)
}

func list(names []string) string {
	if len(names) == 0 {
		return "none defined"
	}
	return strings.Join(names, ", ")
}

// validName reports whether s can name an origin or route: it shows up in
// metrics labels, logs and state keys, so keep it plain.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
