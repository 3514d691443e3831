package origin

import (
	"crypto/tls"
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// Pool is a named origin: one fasthttp.HostClient per server, a balancer
// over the healthy ones and, when configured, an active health checker.
// The proxy keeps pools outside its snapshots, so a reload that leaves the
// origin's settings unchanged keeps its connections and health state.
// Safe for concurrent use. Close stops the health checker; requests
// already running on a closed pool still finish.
type Pool struct {
	name      string
	spec      rules.Origin // copy; Pos cleared
	servers   []*server
	leastConn bool
	next      atomic.Uint32 // round-robin cursor
	health    *healthChecker
	errs      [kinds]*metrics.Counter // flashgate_origin_errors_total{origin,kind}
}

// server is one server of a pool.
type server struct {
	addr     string
	client   *fasthttp.HostClient
	down     atomic.Bool // false = healthy: servers start in rotation
	inflight atomic.Int64
	gauge    *metrics.Gauge // flashgate_upstream_up{origin,server}: 1 or 0
}

// Default limits for an Origin field left zero (a loaded Config has them
// filled in by rules; Configs built in Go may not).
const (
	// DefaultTimeout is an origin exchange's limit when neither the route
	// nor the origin sets one.
	DefaultTimeout     = 10 * time.Second
	defaultMaxConns    = 512
	defaultMaxConnWait = 100 * time.Millisecond
	defaultMaxIdleConn = 30 * time.Second
	// maxResponseBody bounds a buffered origin response: the proxy holds
	// whole bodies in memory, so an unbounded one is an OOM waiting for a
	// misbehaving origin.
	maxResponseBody = 64 << 20
	// originReadBuffer bounds an origin's response headers (fasthttp's 4 KiB
	// default is too small for pages with many Set-Cookie or CSP headers).
	originReadBuffer = 16 << 10
)

// New returns the pool for o with its metrics in set. dial, when not nil,
// opens every connection instead of TCP (in-memory origins in tests and
// benchmarks). The pool's health checker is not started: see StartHealth.
func New(o *rules.Origin, set *metrics.Set, dial func(string) (net.Conn, error)) *Pool {
	p := &Pool{name: o.Name, spec: *o, leastConn: o.Balance == "least_conn"}
	p.spec.Pos = rules.Pos{}
	for i, kind := range kindNames {
		p.errs[i] = set.GetOrCreateCounter(`flashgate_origin_errors_total{origin="` + o.Name + `",kind="` + kind + `"}`)
	}
	for _, addr := range o.Servers {
		u := &server{addr: addr, client: newHostClient(o, addr, dial)}
		u.gauge = set.GetOrCreateGauge(`flashgate_upstream_up{origin="`+o.Name+`",server="`+addr+`"}`, nil)
		u.gauge.Set(1)
		p.servers = append(p.servers, u)
	}
	return p
}

func newHostClient(o *rules.Origin, addr string, dial func(string) (net.Conn, error)) *fasthttp.HostClient {
	c := &fasthttp.HostClient{
		Addr:                addr,
		Name:                "flashgate",
		IsTLS:               o.TLS,
		MaxConns:            orInt(o.MaxConns, defaultMaxConns),
		MaxConnWaitTimeout:  orDur(o.MaxConnWait, defaultMaxConnWait),
		MaxIdleConnDuration: orDur(o.MaxIdleConn, defaultMaxIdleConn),
		// No ReadTimeout: Do's timeout (the route's, else read_timeout)
		// bounds the exchange, and a route's timeout overrides the
		// origin's read_timeout rather than being capped by it.
		WriteTimeout: orDur(o.WriteTimeout, DefaultTimeout),
		// Never retry: a retried POST /buy is a second purchase, and a retry
		// of a GET multiplies load on an origin that is already failing.
		MaxIdemponentCallAttempts: 1,
		MaxResponseBodySize:       maxResponseBody,
		ReadBufferSize:            originReadBuffer,
		// The path was normalised by the gateway and must reach the origin
		// byte for byte as it was matched.
		DisablePathNormalizing: true,
		// Response header names are normalised as they are parsed: the
		// cache and the filters look headers up by name, and an origin
		// that sends "cache-control: private" in lower case (HTTP/2 stacks,
		// many frameworks) must be read as private, not cached for all.
		DisableHeaderNamesNormalizing: false,
		NoDefaultUserAgentHeader:      true,
		SecureErrorLogMessage:         true,
	}
	if o.TLS {
		// SNI and certificate name: the name the origin is known by, not
		// the server's address (fasthttp would use the host of Addr, often
		// an IP).
		name := o.HostRewrite
		if name == "" && len(o.Hosts) > 0 {
			name = o.Hosts[0]
		}
		c.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name}
	}
	if dial == nil {
		dial = fasthttp.Dial // fasthttp's own default
		if d := o.ConnectTimeout; d > 0 {
			dial = func(addr string) (net.Conn, error) { return fasthttp.DialTimeout(addr, d) }
		}
	}
	c.Dial = lazyDeadlines(dial) // deadline.go
	return c
}

// Name returns the origin's configured name.
func (p *Pool) Name() string { return p.name }

// Spec returns the origin's settings (its position cleared). The result
// must not be modified.
func (p *Pool) Spec() *rules.Origin { return &p.spec }

// Timeout is the origin's default exchange limit: its read timeout, else
// DefaultTimeout.
func (p *Pool) Timeout() time.Duration { return orDur(p.spec.ReadTimeout, DefaultTimeout) }

// pick returns a healthy server, or nil when none is. Round robin walks
// from a shared cursor; least_conn takes the fewest requests in flight
// (ties to the earliest, which is fine at the pool sizes configured here).
func (p *Pool) pick() *server {
	if p.leastConn {
		var best *server
		bestN := int64(math.MaxInt64)
		for _, u := range p.servers {
			if c := u.inflight.Load(); !u.down.Load() && c < bestN {
				best, bestN = u, c
			}
		}
		return best
	}
	n := uint32(len(p.servers))
	// Each probe of a server takes the next cursor value, so a down server
	// is skipped without handing its share to its neighbour (walking from
	// one start position would give the server after a down one twice the
	// traffic).
	for range n {
		if u := p.servers[p.next.Add(1)%n]; !u.down.Load() {
			return u
		}
	}
	return nil
}

// Do sends req to a healthy server and reads the answer into resp,
// waiting at most timeout. It never retries. The error is classified with
// Classify; it is counted in the origin's error metrics here.
func (p *Pool) Do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	u := p.pick()
	if u == nil {
		p.errs[KindNoHealthy].Inc()
		return ErrNoHealthy
	}
	if p.spec.TLS {
		req.URI().SetScheme("https")
	}
	u.inflight.Add(1)
	err := u.client.DoTimeout(req, resp, timeout)
	u.inflight.Add(-1)
	if err != nil {
		p.errs[Classify(err)].Inc()
	}
	return err
}

// Close stops the pool's health checker and closes idle connections. The
// proxy calls it once no snapshot references the pool; requests in flight
// on an older snapshot still complete.
func (p *Pool) Close() {
	if p.health != nil {
		p.health.stop()
	}
	for _, u := range p.servers {
		u.client.CloseIdleConnections()
	}
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// ServerStatus is one server's state, for health reports and the admin API.
type ServerStatus struct {
	Origin   string `json:"origin"`
	Server   string `json:"server"`
	Up       bool   `json:"up"`        // in rotation (health checks passing, or none configured)
	InFlight int64  `json:"in_flight"` // requests being sent to it now
}

// Status returns the state of each server, in configured order.
func (p *Pool) Status() []ServerStatus {
	out := make([]ServerStatus, len(p.servers))
	for i, u := range p.servers {
		out[i] = ServerStatus{Origin: p.name, Server: u.addr, Up: !u.down.Load(), InFlight: u.inflight.Load()}
	}
	return out
}
