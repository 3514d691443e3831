package proxy

import (
	"crypto/tls"
	"errors"
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
// Pools live in an Env, outside snapshots, so a reload that leaves the
// origin's settings unchanged keeps its connections and health state.
// Safe for concurrent use. Close stops the health checker; requests
// already running on a closed pool still finish.
type Pool struct {
	name      string
	spec      rules.Origin // copy; Pos cleared
	servers   []*upstream
	leastConn bool
	next      atomic.Uint32 // round-robin cursor
	health    *healthChecker
	errs      [errKinds]*metrics.Counter // flashgate_origin_errors_total{origin,kind}
}

// upstream is one server of a pool.
type upstream struct {
	addr     string
	client   *fasthttp.HostClient
	down     atomic.Bool // false = healthy: servers start in rotation
	inflight atomic.Int64
	gauge    *metrics.Gauge // flashgate_upstream_up{origin,server}: 1 or 0
	// flashgate_origin_duration_seconds{origin,server}, and
	// flashgate_origin_server_errors_total{origin,server}
	latency *metrics.PrometheusHistogram
	errs    *metrics.Counter
}

// errNoHealthy means every server of the pool is marked down.
var errNoHealthy = errors.New("no healthy server")

// Default limits for an Origin field left zero (a loaded Config has them
// filled in by rules; Configs built in Go may not).
const (
	defaultOriginTimeout = 10 * time.Second
	defaultMaxConns      = 512
	defaultMaxConnWait   = 100 * time.Millisecond
	defaultMaxIdleConn   = 30 * time.Second
	// maxResponseBody bounds a buffered origin response: the proxy holds
	// whole bodies in memory, so an unbounded one is an OOM waiting for a
	// misbehaving origin.
	maxResponseBody = 64 << 20
	// originReadBuffer bounds an origin's response headers (fasthttp's 4 KiB
	// default is too small for pages with many Set-Cookie or CSP headers).
	originReadBuffer = 16 << 10
)

func newPool(o *rules.Origin, set *metrics.Set, dial func(string) (net.Conn, error)) *Pool {
	p := &Pool{name: o.Name, spec: *o, leastConn: o.Balance == "least_conn"}
	p.spec.Pos = rules.Pos{}
	for i, kind := range errKindNames {
		p.errs[i] = set.GetOrCreateCounter(`flashgate_origin_errors_total{origin="` + o.Name + `",kind="` + kind + `"}`)
	}
	for _, addr := range o.Servers {
		u := &upstream{addr: addr, client: newHostClient(o, addr, dial)}
		u.gauge = set.GetOrCreateGauge(`flashgate_upstream_up{origin="`+o.Name+`",server="`+addr+`"}`, nil)
		u.gauge.Set(1)
		labels := `{origin="` + o.Name + `",server="` + addr + `"}`
		u.latency = set.GetOrCreatePrometheusHistogramExt(`flashgate_origin_duration_seconds`+labels, LatencyBuckets)
		u.errs = set.GetOrCreateCounter(`flashgate_origin_server_errors_total` + labels)
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
		ReadTimeout:         orDur(o.ReadTimeout, defaultOriginTimeout),
		WriteTimeout:        orDur(o.WriteTimeout, defaultOriginTimeout),
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
	if dial != nil {
		c.Dial = dial
	} else if d := o.ConnectTimeout; d > 0 {
		c.DialTimeout = func(addr string, _ time.Duration) (net.Conn, error) {
			return fasthttp.DialTimeout(addr, d)
		}
	}
	return c
}

// Name returns the origin's configured name.
func (p *Pool) Name() string { return p.name }

// pick returns a healthy server, or nil when none is. Round robin walks
// from a shared cursor; least_conn takes the fewest requests in flight
// (ties to the earliest, which is fine at the pool sizes configured here).
func (p *Pool) pick() *upstream {
	if p.leastConn {
		var best *upstream
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
// classify; it is counted in the origin's error metrics here.
func (p *Pool) Do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	u := p.pick()
	if u == nil {
		p.errs[errKindNoHealthy].Inc()
		return errNoHealthy
	}
	if p.spec.TLS {
		req.URI().SetScheme("https")
	}
	u.inflight.Add(1)
	start := time.Now()
	err := u.client.DoTimeout(req, resp, timeout)
	u.latency.Update(time.Since(start).Seconds())
	u.inflight.Add(-1)
	if err != nil {
		p.errs[classify(err)].Inc()
		u.errs.Inc()
	}
	return err
}

// Close stops the pool's health checker and closes idle connections. It is
// called by Env once no snapshot references the pool; requests in flight
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
