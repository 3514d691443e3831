package rules

import (
	"net/netip"
	"time"

	"flashgate/route"
)

// Config is the validated configuration: the main file and every included
// file merged. It is plain data; package proxy compiles it into a runtime
// snapshot. Sections whose meaning belongs to another package (cache,
// admission, a route's filters, cache policy and ESI settings) are kept as
// Nodes and decoded strictly by that package, so their errors still name
// file:line:col.
type Config struct {
	// Files lists every file that was read (main file first), for the watcher.
	Files []string
	// WatchDirs lists the directories to watch: those of Files and of every
	// include glob, so that a new file matching a glob is picked up.
	WatchDirs []string
	// Digest is a hash of the bytes of all Files; equal digests mean nothing changed.
	Digest [32]byte

	Server  Server
	Logging Logging
	Origins []*Origin // sorted by Name
	Routes  []*Route  // in file order (main file, then includes in glob order, then name order)

	Cache     Node // top-level "cache:", decoded by package cache
	Admission Node // top-level "admission:", decoded by package filters
	Hotspot   Node // top-level "hotspot:", decoded by package proxy
	Demo      *Demo
	Cluster   *Cluster // top-level "cluster:"; nil = state in process memory (cluster.go)
	Admin     *Admin   // "admin:", the admin listener; nil = none (admin.go)
}

// Server holds the public listener's settings. Zero values are replaced by
// defaults during validation, so a loaded Config never has zero limits.
type Server struct {
	Listen          string         // default "127.0.0.1:8080"
	ReadTimeout     time.Duration  // default 10s
	WriteTimeout    time.Duration  // default 30s
	IdleTimeout     time.Duration  // default 60s
	ShutdownTimeout time.Duration  // default 15s
	MaxHeaderBytes  int64          // default 16KiB (fasthttp ReadBufferSize)
	MaxBodyBytes    int64          // default 1MiB
	MaxConnsPerIP   int            // default 0 = unlimited
	Concurrency     int            // default 262144 (fasthttp's)
	TrustedProxies  []netip.Prefix // masked networks; a bare address is a /32 or /128
	// Unmatched is what a request that matches no route gets: "deny" (404
	// at the edge, the default) or the name of an origin to forward to.
	Unmatched string
	// CaseInsensitive makes every route's literal segments match regardless
	// of ASCII case (as an origin on a case-insensitive router reads them).
	CaseInsensitive bool
	// Hosts, when set, are the only Host header values (any case, without
	// port or trailing dot) the gateway serves; any other gets 421 at the
	// edge. Without it, a client choosing Host can mint cache keys at will
	// and have the origin render pages for a host that is not the shop's.
	Hosts []string
	// TLS, when set, makes the listener speak TLS (rules/tls.go).
	TLS *TLS
	// ProxyProtocol, when set, names the balancers that must send a PROXY
	// protocol header (rules/tls.go).
	ProxyProtocol *ProxyProtocol
	Pos           Pos
}

// Logging configures the process log and the optional access log.
type Logging struct {
	Level     string // debug, info (default), warn, error
	Format    string // text (default) or json
	AccessLog string // "" = off, "stdout", "stderr" or a file path
}

// Origin is a named pool of backend servers. Only configured origins are
// ever contacted.
type Origin struct {
	Name    string
	Servers []string // host:port
	// Hosts are the public host names served by this origin; an absolute
	// ESI src is fetched only if its host is listed here.
	Hosts          []string // lowercased
	HostRewrite    string   // Host header sent upstream; "" keeps the client's
	TLS            bool     // connect with TLS
	Balance        string   // round_robin (default) or least_conn
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration // response timeout, default 10s
	WriteTimeout   time.Duration
	MaxConns       int           // per server, default 512
	MaxConnWait    time.Duration // wait for a free connection, default 100ms
	MaxIdleConn    time.Duration // idle keep-alive lifetime, default 30s
	Health         HealthCheck
	Limit          OriginLimit // concurrency limit (protect.go); zero = none
	Breaker        Breaker     // per-server circuit breaker (protect.go); zero = none
	// Identity lists the headers the origin reads a user's identity from
	// (identity.go): they come from the gateway only.
	Identity []OriginIdentity
	Pos      Pos
}

// HealthCheck configures active health checks of an origin's servers.
// A zero Path disables them.
type HealthCheck struct {
	Path     string
	Interval time.Duration // default 2s
	Timeout  time.Duration // default 1s
	Fails    int           // consecutive failures to mark down, default 2
	Passes   int           // consecutive passes to mark up, default 2
	Status   int           // expected status, 100-599, default 200
	// AllDown is what happens when every server is marked down by the
	// checks: "send" (the default) sends requests to them anyway, "refuse"
	// answers 502 at the edge. See docs/protection.md.
	AllDown string
}

// HealthCheck.AllDown values.
const (
	AllDownSend   = "send"
	AllDownRefuse = "refuse"
)

// Route is one entry of the route table.
type Route struct {
	Name    string
	Host    string         // lowercased, no port; "" matches any host
	Methods []string       // nil matches every method
	Path    string         // as written
	Pattern *route.Pattern // parsed Path, never nil in a loaded Config
	Origin  string
	// HostRewrite overrides the origin's HostRewrite for this route.
	HostRewrite  string
	Timeout      time.Duration // overrides the origin's ReadTimeout when > 0
	MaxBodyBytes int64         // overrides Server.MaxBodyBytes when > 0

	Cache   Node   // "cache:", decoded by package cache; zero = not cached
	ESI     Node   // "esi:", decoded by package proxy; zero = off
	Filters []Node // "filters:", each a one-key map {kind: spec}, decoded by package filters
	Async   *Async // "async:", queued purchases (rules/async.go); nil = forward at once
	Pages   Node   // "pages:", this route's page templates, decoded by package filters
	// Priority is the route's class when its origin is overloaded:
	// critical, normal (default) or sheddable (protect.go).
	Priority string
	Bulkhead int  // the route's own share of its origin's concurrency; 0 = none
	Fallback Node // "fallback:", decoded by package proxy; zero = none
	Pos      Pos
}

// Demo asks cmd/flashgate to start the embedded demo shop on Listen.
type Demo struct {
	Listen     string
	Mode       string        // order (default), payment or reserve: see rules/demo.go
	HoldWindow time.Duration // mode reserve: how long an unpaid order holds its units; 0 = the shop's default
	Pos        Pos
}

// Pos is a position in a rule file.
type Pos struct {
	File      string
	Line, Col int
}
