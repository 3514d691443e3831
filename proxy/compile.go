package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/edge"
	"flashgate/origin"
	"flashgate/route"
	"flashgate/rules"
)

// Snapshot is the compiled, immutable runtime form of one Config. A request
// loads the current snapshot once and uses it to its end; reloads publish a
// new one. Stateful parts (origin pools) are shared with other snapshots
// through the Env. Safe for concurrent use.
type Snapshot struct {
	Config     *rules.Config
	table      *route.Table
	routes     []*Route // index = route table index
	byName     map[string]*Route
	pools      map[string]*origin.Pool
	trusted    []netip.Prefix
	hosts      [][]byte           // server.hosts, lowercased; empty = any Host
	allowTable *route.Table       // method-less (host, pattern) entries, see compileAllow
	allow      []string           // Allow header value per allowTable index
	fallback   *Route             // unmatched requests when server.unmatched names an origin; nil = deny
	personal   cache.PersonalMode // top-level cache.personal: how personal answers leave (personal.go)
	// gateway holds the pages the admission filters registered (quiz,
	// queue status), by full path; see admission.go.
	gateway map[string]fasthttp.RequestHandler
	hot     *hotRuntime // hot-key detection and isolation; nil = no hotspot section (hot_config.go, hot_stage.go)
	certs   *edge.Certs // server.tls certificates and HSTS; nil = plain (listener.go)
}

// Route is one compiled route. Read only after Compile; the stage fields
// are set by the packages that compile them (see stages.go) before the
// snapshot is published.
type Route struct {
	Name        string
	Spec        *rules.Route // the rule it was compiled from (nil for the unmatched fallback)
	Origin      *origin.Pool
	HostRewrite []byte        // Host sent upstream; nil keeps the client's
	Timeout     time.Duration // whole origin exchange
	// MaxBodyBytes is the route's request body limit; 0 = the server's.
	// It can only lower server.max_body_size, which fasthttp enforces while
	// reading, before any route is known.
	MaxBodyBytes int

	// Stages, nil when the route does not use them; see stages.go.
	Admission Admission   // admission filters, before the cache
	Cache     Cache       // response cache around the origin call
	ESI       Assembler   // ESI assembly after the origin/cache answer
	Async     *asyncQueue // queued purchases (async_stage.go); nil = forward at once

	asyncLive *asyncLive // what this compile says about Async, applied at commit

	identity identityHeaders // the origin's identity headers: from the gateway only (identity.go)
	requests statusCounters
	fetch    FetchFunc    // rt.Fetch, bound once so that passing it allocates nothing
	prot     routeProtect // priority, bulkhead, fallback, micro-cache, switches (protect_env.go)
}

// Fetch sends req to the route's origin pool within the route's timeout,
// never retrying, and stores the answer, hop-by-hop headers stripped and
// Via added, in resp. req must already follow the forwarding rules (see
// Exchange.Outbound). Fetch depends only on its arguments and the
// immutable route, so it may run after the request ended (background
// revalidation). Safe for concurrent use.
func (rt *Route) Fetch(req *fasthttp.Request, resp *fasthttp.Response) error {
	return rt.fetchVia(req, resp, rt.prot.bulkhead)
}

// Route returns the compiled route with the given name, or nil.
func (s *Snapshot) Route(name string) *Route { return s.byName[name] }

// Routes returns the compiled routes in table order. The slice must not be
// modified.
func (s *Snapshot) Routes() []*Route { return s.routes }

// Compile turns a validated Config into a Snapshot, reporting every error
// at once (errors.Join), each prefixed with file:line:col. env provides the
// origin pools; with a nil env (flashgate -check) Compile builds them
// without starting health checks or contacting any server. Compile does
// not publish anything: after a successful swap, call env.Retain with the
// snapshots still serving so pools no longer used are closed.
func Compile(cfg *rules.Config, env *Env) (*Snapshot, error) {
	if env == nil {
		env = NewEnv(EnvOptions{})
		env.passive = true
	}
	s := &Snapshot{
		Config: cfg, byName: map[string]*Route{}, pools: map[string]*origin.Pool{},
		trusted: cfg.Server.TrustedProxies,
		hosts:   hostList(cfg.Server.Hosts),
	}
	var errs []error
	for i, o := range cfg.Origins {
		if len(o.Servers) == 0 {
			errs = append(errs, posErr(o.Pos, fmt.Sprintf("origins[%d].servers", i), "origin %q has no servers", o.Name))
			continue
		}
		s.pools[o.Name] = env.pool(o)
	}
	rc, err := env.cacheFor(cfg.Cache, s) // response cache and ESI: cache_stage.go, esi_stage.go
	if err != nil {
		errs = append(errs, err)
	}
	if s.hot, err = env.hotFor(cfg.Hotspot); err != nil { // hot keys: hot_config.go
		errs = append(errs, err)
	}
	frags := newFragmentRouter(s, cfg.Origins)
	entries := make([]route.Entry, 0, len(cfg.Routes))
	for i, r := range cfg.Routes {
		rt, err := s.compileRoute(i, r, env.Metrics)
		if err == nil {
			err = compileResponseStages(rt, rc, frags, env)
			rt.keyIdentity()
		}
		if err == nil {
			err = s.compileProtect(i, r, rt, rc, env) // priority, bulkhead, fallback: protect_env.go
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		entries = append(entries, route.Entry{Host: r.Host, Methods: r.Methods, Pattern: r.Pattern})
		s.routes = append(s.routes, rt)
		s.byName[rt.Name] = rt
	}
	if err := env.clusterFor(cfg.Cluster); err != nil { // shared state: cluster.go
		errs = append(errs, posErr(cfg.Cluster.Pos, "cluster", "%v", err))
	}
	adm, err := s.compileAdmission(cfg, env) // admission filters: admission.go
	if err != nil {
		errs = append(errs, err)
	}
	if err := s.compileAsync(cfg, env); err != nil { // queued purchases: async_stage.go
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		t, err := route.NewTable(entries, cfg.Server.CaseInsensitive)
		if err == nil {
			err = s.compileAllow(cfg)
		}
		if err != nil {
			errs = append(errs, posErr(cfg.Server.Pos, "routes", "%v", err))
		}
		s.table = t
	}
	if err := s.compileFallback(cfg, env.Metrics); err != nil {
		errs = append(errs, err)
	}
	if s.certs, err = compileCerts(cfg); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Only a snapshot that compiled whole may touch filter state.
	s.commitAdmission(adm)
	s.commitAsync(env)
	return s, nil
}

// Check compiles cfg without starting anything or contacting any server:
// what `flashgate -check` runs, so check and reload cannot disagree.
func Check(cfg *rules.Config) error {
	_, err := Compile(cfg, nil)
	return err
}

func (s *Snapshot) compileRoute(i int, r *rules.Route, m *Metrics) (*Route, error) {
	key := fmt.Sprintf("routes[%d]", i)
	switch {
	case r.Pattern == nil:
		return nil, posErr(r.Pos, key+".path", "route %q has no compiled path pattern", r.Name)
	case s.byName[r.Name] != nil:
		return nil, posErr(r.Pos, key+".name", "duplicate route name %q", r.Name)
	}
	p := s.pools[r.Origin]
	if p == nil {
		return nil, posErr(r.Pos, key+".origin", "unknown origin %q (known: %s)", r.Origin, s.poolNames())
	}
	rt := &Route{
		Name: r.Name, Spec: r, Origin: p,
		HostRewrite:  hostRewrite(r.HostRewrite, p.Spec().HostRewrite),
		Timeout:      orDur(r.Timeout, p.Timeout()),
		MaxBodyBytes: int(r.MaxBodyBytes),
		identity:     compileIdentity(p.Spec().Identity),
		requests:     newStatusCounters(m.set, r.Name),
	}
	rt.fetch = rt.Fetch
	return rt, nil
}

// compileFallback sets the route used for unmatched requests when
// server.unmatched names an origin rather than "deny".
func (s *Snapshot) compileFallback(cfg *rules.Config, m *Metrics) error {
	name := cfg.Server.Unmatched
	if name == "" || name == "deny" {
		return nil
	}
	p := s.pools[name]
	if p == nil {
		return posErr(cfg.Server.Pos, "server.unmatched", "unknown origin %q (known: deny, %s)", name, s.poolNames())
	}
	s.fallback = &Route{
		Name: "_unmatched", Origin: p, HostRewrite: hostRewrite("", p.Spec().HostRewrite),
		Timeout:  p.Timeout(),
		identity: compileIdentity(p.Spec().Identity),
		requests: newStatusCounters(m.set, "_unmatched"),
	}
	s.fallback.fetch = s.fallback.Fetch
	return nil
}

func (s *Snapshot) poolNames() string {
	names := make([]string, 0, len(s.Config.Origins))
	for _, o := range s.Config.Origins {
		names = append(names, o.Name)
	}
	return strings.Join(names, ", ")
}

// hostRewrite picks the Host sent upstream: the route's override, else the
// origin's, else nil (keep the client's).
func hostRewrite(routeHost, originHost string) []byte {
	if h := orStr(routeHost, originHost); h != "" {
		return []byte(h)
	}
	return nil
}

// compileAllow builds the table that answers "which methods does this
// path accept?" for a 405's Allow header (RFC 9110 §15.5.6): one
// method-less entry per distinct (host, pattern), whose Allow lists the
// methods of every route sharing them, so a GET and a POST route on
// /buy/{id} answer a PUT with "Allow: GET, POST". route.Table reports no
// index on MethodNotAllowed, hence the second table.
func (s *Snapshot) compileAllow(cfg *rules.Config) error {
	type key struct{ host, pattern string }
	at := map[key]int{}
	var entries []route.Entry
	for _, r := range cfg.Routes {
		k := key{r.Host, r.Pattern.String()}
		i, ok := at[k]
		if !ok {
			i = len(entries)
			at[k] = i
			entries = append(entries, route.Entry{Host: r.Host, Pattern: r.Pattern})
			s.allow = append(s.allow, "")
		}
		for _, m := range r.Methods {
			if !strings.Contains(", "+s.allow[i]+", ", ", "+m+", ") {
				s.allow[i] = strings.TrimPrefix(s.allow[i]+", "+m, ", ")
			}
		}
	}
	t, err := route.NewTable(entries, cfg.Server.CaseInsensitive)
	s.allowTable = t
	return err
}

func posErr(p rules.Pos, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.File == "" {
		return fmt.Errorf("%s: %s", key, msg)
	}
	return fmt.Errorf("%s:%d:%d: %s: %s", p.File, p.Line, p.Col, key, msg)
}
