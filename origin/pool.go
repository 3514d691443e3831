package origin

import (
	"crypto/tls"
	"errors"
	"log/slog"
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
	limit     *Limiter // nil = no concurrency limit
	now       func() time.Time
	log       *slog.Logger
	errs      [kinds]*metrics.Counter      // flashgate_origin_errors_total{origin,kind}
	shed      [priorities]*metrics.Counter // flashgate_origin_shed_total{origin,priority}
	inflightG *metrics.Gauge               // flashgate_origin_in_flight{origin}
	limitG    *metrics.Gauge               // flashgate_origin_limit{origin}: 0 = none
	// sendAllDown sends requests to servers the health checks marked down
	// when all of them are (health.all_down: send); allDown counts those
	// requests, flashgate_origin_all_down_total{origin}.
	sendAllDown bool
	allDown     *metrics.Counter
}

// server is one server of a pool.
type server struct {
	addr     string
	client   *fasthttp.HostClient
	down     atomic.Bool  // false = healthy: servers start in rotation
	forced   atomic.Int32 // forceAuto, forceDown or forceUp: an operator's override (Plan B)
	inflight atomic.Int64
	breaker  *breaker       // nil = none
	gauge    *metrics.Gauge // flashgate_upstream_up{origin,server}: 1 or 0
	// flashgate_origin_duration_seconds{origin,server},
	// flashgate_origin_requests_total{origin,server} and
	// flashgate_origin_server_errors_total{origin,server}
	latency *metrics.PrometheusHistogram
	calls   *metrics.Counter
	errs    *metrics.Counter
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
	// maxStaleRetries bounds how often a request goes on another
	// connection after finding its own closed (errStale): the first find
	// drops the server's idle connections, so the second attempt dials.
	maxStaleRetries = 2
)

// Options configures New. Zero fields get defaults.
type Options struct {
	Metrics *metrics.Set // nil: a private set
	// Dial, when set, opens every connection instead of TCP (in-memory
	// origins in tests and benchmarks).
	Dial   func(addr string) (net.Conn, error)
	Now    func() time.Time // the breakers' clock; nil: time.Now
	Logger *slog.Logger     // breaker and health changes; nil: slog.Default()
}

// New returns the pool for o. Its health checker is not started: see
// StartHealth.
func New(o *rules.Origin, opts Options) *Pool {
	set := opts.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	p := &Pool{name: o.Name, spec: *o, leastConn: o.Balance == "least_conn", now: opts.Now, log: opts.Logger,
		limit: NewLimiter(o.Limit)}
	p.spec.Pos = rules.Pos{}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	for i, kind := range kindNames {
		p.errs[i] = set.GetOrCreateCounter(`flashgate_origin_errors_total{origin="` + o.Name + `",kind="` + kind + `"}`)
	}
	for i, name := range priorityNames {
		p.shed[i] = set.GetOrCreateCounter(`flashgate_origin_shed_total{origin="` + o.Name + `",priority="` + name + `"}`)
	}
	p.inflightG = set.GetOrCreateGauge(`flashgate_origin_in_flight{origin="`+o.Name+`"}`, nil)
	p.limitG = set.GetOrCreateGauge(`flashgate_origin_limit{origin="`+o.Name+`"}`, nil)
	p.sendAllDown = o.Health.AllDown != rules.AllDownRefuse
	p.allDown = set.GetOrCreateCounter(`flashgate_origin_all_down_total{origin="` + o.Name + `"}`)
	p.limitG.Set(float64(p.limit.Limit()))
	for _, addr := range o.Servers {
		labels := `{origin="` + o.Name + `",server="` + addr + `"}`
		stale := set.GetOrCreateCounter(`flashgate_origin_stale_conns_total` + labels)
		u := &server{addr: addr, client: newHostClient(o, addr, opts.Dial, stale)}
		u.gauge = set.GetOrCreateGauge(`flashgate_upstream_up`+labels, nil)
		u.gauge.Set(1)
		open := set.GetOrCreateGauge(`flashgate_origin_breaker_open`+labels, nil)
		open.Set(0)
		u.breaker = newBreaker(o.Breaker, func(from, to int32) { p.breakerChanged(u, open, to) })
		u.latency = set.GetOrCreatePrometheusHistogramExt(`flashgate_origin_duration_seconds`+labels, LatencyBuckets)
		u.calls = set.GetOrCreateCounter(`flashgate_origin_requests_total` + labels)
		u.errs = set.GetOrCreateCounter(`flashgate_origin_server_errors_total` + labels)
		p.servers = append(p.servers, u)
	}
	return p
}

// newHostClient returns the client of the server at addr; stale counts
// the idle connections it finds closed (errStale).
func newHostClient(o *rules.Origin, addr string, dial func(string) (net.Conn, error), stale *metrics.Counter) *fasthttp.HostClient {
	c := &fasthttp.HostClient{
		Addr:                addr,
		Name:                "flashgate",
		IsTLS:               o.TLS,
		MaxConns:            orInt(o.MaxConns, defaultMaxConns),
		MaxConnWaitTimeout:  orDur(o.MaxConnWait, defaultMaxConnWait),
		MaxIdleConnDuration: orDur(o.MaxIdleConn, defaultMaxIdleConn),
		// The connection released last is taken first: after a spike the
		// connections it opened sit idle and close after max_idle_conn,
		// where taking the oldest first (fasthttp's default) keeps every
		// one of them in rotation, open to the shop, for as long as
		// requests come at all.
		ConnPoolStrategy: fasthttp.LIFO,
		// No ReadTimeout: Do's timeout (the route's, else read_timeout)
		// bounds the exchange, and a route's timeout overrides the
		// origin's read_timeout rather than being capped by it.
		WriteTimeout: orDur(o.WriteTimeout, DefaultTimeout),
		// Never retry: a retried POST /buy is a second purchase, and a retry
		// of a GET multiplies load on an origin that is already failing.
		// Except a request that never left: its keep-alive connection was
		// found closed before anything was written to it (errStale,
		// conn.go). It goes on another connection, whatever its method.
		MaxIdemponentCallAttempts: 1 + maxStaleRetries,
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
	c.Dial = originConns(dial, o.TLS, stale) // conn.go
	c.RetryIfErr = func(_ *fasthttp.Request, attempt int, err error) (resetTimeout, retry bool) {
		if !errors.Is(err, errStale) {
			return false, false
		}
		stale.Inc()
		if attempt == 1 {
			// A server that closed one idle connection (its keep-alive
			// timeout, a restart) has closed the others that idled as long:
			// drop them all rather than find each with a request.
			c.CloseIdleConnections()
		}
		return false, true
	}
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

// MaxConns is each server's connection limit (origins.*.max_conns).
func (p *Pool) MaxConns() int { return orInt(p.spec.MaxConns, defaultMaxConns) }

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
	Origin  string `json:"origin"`
	Server  string `json:"server"`
	Healthy bool   `json:"healthy"` // health checks passing (or none configured)
	// Forced is an operator's override: "down", "up" or "" (none).
	Forced string `json:"forced,omitempty"`
	// Breaker is "closed", "open" or "half-open"; "" when none is configured.
	Breaker string `json:"breaker,omitempty"`
	// Up: the server takes requests now (override, health and breaker).
	Up       bool  `json:"up"`
	InFlight int64 `json:"in_flight"` // requests being sent to it now
	// Limit is the origin's current concurrency limit, shared by its
	// servers (0 = none), and OriginInFlight the requests holding a slot.
	Limit          int   `json:"limit"`
	OriginInFlight int64 `json:"origin_in_flight"`
}

// Status returns the state of each server, in configured order.
func (p *Pool) Status() []ServerStatus {
	out := make([]ServerStatus, len(p.servers))
	now := p.now()
	for i, u := range p.servers {
		st := ServerStatus{Origin: p.name, Server: u.addr, Healthy: !u.down.Load(), Breaker: u.breaker.stateName(),
			InFlight: u.inflight.Load(), Limit: p.limit.Limit(), OriginInFlight: p.limit.InFlight()}
		switch u.forced.Load() {
		case forceDown:
			st.Forced = "down"
		case forceUp:
			st.Forced = "up"
		}
		st.Up = u.usable() && (st.Forced == "up" || u.breaker.peek(now))
		out[i] = st
	}
	return out
}
