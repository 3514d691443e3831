package origin

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// TickerFunc starts a ticker with period d and returns its channel and a
// stop function. RealTicker uses time.NewTicker; tests inject a channel
// they drive, so health checks run without sleeping.
type TickerFunc func(d time.Duration) (<-chan time.Time, func())

// RealTicker is the TickerFunc of time.NewTicker.
func RealTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// healthChecker probes every server of a pool on each tick and moves a
// server out of rotation after Fails consecutive failed probes and back
// after Passes consecutive good ones (hysteresis, so a flapping server does
// not bounce in and out). One goroutine per pool, stopped by stop. The
// counters are touched only by that goroutine (or by a test calling
// checkOnce while the loop is not running).
type healthChecker struct {
	pool           *Pool
	spec           rules.HealthCheck
	host           string
	fails, passes  []int
	log            *slog.Logger
	quit, finished chan struct{}
	stopOnce       sync.Once
}

// Health-check defaults for fields left zero.
const (
	defaultHealthInterval = 2 * time.Second
	defaultHealthTimeout  = time.Second
	defaultHealthFails    = 2
	defaultHealthPasses   = 2
)

func newHealthChecker(p *Pool, log *slog.Logger) *healthChecker {
	spec := p.spec.Health
	spec.Interval = orDur(spec.Interval, defaultHealthInterval)
	spec.Timeout = orDur(spec.Timeout, defaultHealthTimeout)
	spec.Fails = orInt(spec.Fails, defaultHealthFails)
	spec.Passes = orInt(spec.Passes, defaultHealthPasses)
	host := p.spec.HostRewrite
	if host == "" && len(p.spec.Hosts) > 0 {
		host = p.spec.Hosts[0]
	}
	return &healthChecker{
		pool: p, spec: spec, host: host, log: log,
		fails: make([]int, len(p.servers)), passes: make([]int, len(p.servers)),
		quit: make(chan struct{}), finished: make(chan struct{}),
	}
}

// StartHealth starts the pool's active health checker, when its origin
// configures one (health.path), with its log lines on log and its ticks
// from newTicker (nil: RealTicker). Call it at most once; Close stops it.
func (p *Pool) StartHealth(log *slog.Logger, newTicker TickerFunc) {
	if p.spec.Health.Path == "" || p.health != nil {
		return
	}
	if newTicker == nil {
		newTicker = RealTicker
	}
	p.health = newHealthChecker(p, log)
	p.health.start(newTicker)
}

// CheckHealth runs one round of probes now and applies the results, as a
// tick would; it does nothing when no health checker was started. It must
// not run concurrently with the checker's own loop, so it is meant for a
// checker driven by a TickerFunc that never ticks (tests, tools).
func (p *Pool) CheckHealth() {
	if p.health != nil {
		p.health.checkOnce()
	}
}

// SetUp records a health verdict for the server at addr, as the checker
// would after enough probes, and reports whether the pool has that server.
// The next probes may change it again.
func (p *Pool) SetUp(addr string, up bool) bool {
	for _, u := range p.servers {
		if u.addr == addr {
			u.setDown(!up)
			return true
		}
	}
	return false
}

func (u *server) setDown(down bool) {
	u.down.Store(down)
	if down {
		u.gauge.Set(0)
	} else {
		u.gauge.Set(1)
	}
}

// start runs the probe loop on its own goroutine until stop.
func (h *healthChecker) start(newTicker TickerFunc) {
	tick, stopTick := newTicker(h.spec.Interval)
	go func() {
		defer close(h.finished)
		defer stopTick()
		for {
			select {
			case <-h.quit:
				return
			case <-tick:
				h.checkOnce()
			}
		}
	}()
}

// stop ends the loop and waits for a probe in progress to finish.
func (h *healthChecker) stop() {
	h.stopOnce.Do(func() { close(h.quit) })
	<-h.finished
}

// checkOnce probes all servers in parallel and applies the results.
func (h *healthChecker) checkOnce() {
	ok := make([]bool, len(h.pool.servers))
	var wg sync.WaitGroup
	for i, u := range h.pool.servers {
		wg.Go(func() { ok[i] = h.probe(u) })
	}
	wg.Wait()
	for i, u := range h.pool.servers {
		h.apply(i, u, ok[i])
	}
}

// probe sends one GET of the health path through the server's own client,
// so a good probe also proves the connection path requests take; good means the expected status
// (any 2xx when Status is 0) within Timeout.
func (h *healthChecker) probe(u *server) bool {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(h.spec.Path)
	req.Header.SetHost(orStr(h.host, u.addr))
	if h.pool.spec.TLS {
		req.URI().SetScheme("https")
	}
	// The body is not read, so the connection is not kept: its unread
	// bytes would be the next request's answer.
	resp.SkipBody = true
	req.SetConnectionClose()
	if err := u.client.DoTimeout(req, resp, h.spec.Timeout); err != nil {
		return false
	}
	if h.spec.Status == 0 {
		return resp.StatusCode() >= 200 && resp.StatusCode() < 300
	}
	return resp.StatusCode() == h.spec.Status
}

func (h *healthChecker) apply(i int, u *server, ok bool) {
	if ok {
		h.fails[i], h.passes[i] = 0, h.passes[i]+1
		if u.down.Load() && h.passes[i] >= h.spec.Passes {
			u.setDown(false)
			h.log.LogAttrs(context.Background(), slog.LevelInfo, "origin server back up",
				slog.String("origin", h.pool.name), slog.String("server", u.addr))
		}
		return
	}
	h.passes[i], h.fails[i] = 0, h.fails[i]+1
	if !u.down.Load() && h.fails[i] >= h.spec.Fails {
		u.setDown(true)
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "origin server marked down",
			slog.String("origin", h.pool.name), slog.String("server", u.addr),
			slog.String("check", h.spec.Path), slog.Int("failed_probes", h.fails[i]))
	}
}

func orStr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
