package origin

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// ErrBreakerOpen means every server that could take the request has its
// circuit breaker open (or its half-open probes taken).
var ErrBreakerOpen = errors.New("origin circuit breakers open")

// Operator overrides of a server's state (Plan B switches).
const (
	forceAuto int32 = iota
	forceDown
	forceUp
)

// Call carries what protection needs to know about one origin call.
type Call struct {
	Priority Priority
	// Scale multiplies the concurrency limit for this call (a Plan B
	// switch's ×0.5); 0 means 1.
	Scale float64
	// Bulkhead, when set, is a limiter the call must also get a slot from
	// (a route's or the hot set's own share of the origin).
	Bulkhead *Limiter
}

// Do sends req with normal priority; see DoCall.
func (p *Pool) Do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	return p.DoCall(req, resp, timeout, Call{Priority: Normal})
}

// DoCall sends req to a server that can take it and reads the answer into
// resp, waiting at most timeout for the answer. Before that, the call
// takes a slot of its bulkhead and of the origin's concurrency limit (a
// short bounded wait, then ErrShed) and a server whose breaker lets it
// through (else ErrBreakerOpen). It never retries. The error is
// classified with Classify and counted in the origin's error metrics.
func (p *Pool) DoCall(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, c Call) error {
	scale := c.Scale
	if scale <= 0 {
		scale = 1
	}
	if err := c.Bulkhead.Acquire(c.Priority, 1); err != nil {
		return p.fail(err, c.Priority)
	}
	defer c.Bulkhead.Release(0, false)
	if err := p.limit.Acquire(c.Priority, scale); err != nil {
		return p.fail(err, c.Priority)
	}
	now := p.now()
	u, t := p.pick(now)
	if u == nil && t != refused && p.sendAllDown {
		u, t = p.pickAllDown(now)
	}
	if u == nil {
		p.limit.Release(0, false)
		if t == refused {
			return p.fail(ErrBreakerOpen, c.Priority)
		}
		return p.fail(ErrNoHealthy, c.Priority)
	}
	if p.spec.TLS {
		req.URI().SetScheme("https")
	}
	u.inflight.Add(1)
	u.calls.Inc()
	p.inflightG.Inc()
	err := u.client.DoTimeout(req, resp, timeout)
	p.inflightG.Dec()
	u.inflight.Add(-1)
	end := p.now()
	u.latency.Update(end.Sub(now).Seconds())
	var kind Kind = -1
	if err != nil {
		kind = Classify(err)
		p.errs[kind].Inc()
		u.errs.Inc()
	}
	u.breaker.done(t, err == nil && resp.StatusCode() < 500, end)
	if p.limit != nil {
		// Overload signs shrink an adaptive limit: a timeout, no free
		// connection, a refused connection, or the origin's own 503.
		dropped := kind == KindTimeout || kind == KindBusy || kind == KindRefused || err == nil && resp.StatusCode() == 503
		p.limit.Release(end.Sub(now), dropped)
		p.limitG.Set(float64(p.limit.Limit()))
	}
	return err
}

// fail counts a call refused before it reached a server.
func (p *Pool) fail(err error, prio Priority) error {
	if errors.Is(err, ErrShed) {
		p.shed[prio].Inc()
	}
	p.errs[Classify(err)].Inc()
	return err
}

// usable reports whether u may be picked, breakers aside: an operator's
// override first, then its health.
func (u *server) usable() bool {
	switch u.forced.Load() {
	case forceDown:
		return false
	case forceUp:
		return true
	}
	return !u.down.Load()
}

// pick returns a server that can take a request now and the breaker
// ticket it holds, or nil and refused when only open breakers stand in
// the way (admitted: no usable server at all). Round robin walks from a
// shared cursor; least_conn takes the fewest requests in flight (ties to
// the earliest, which is fine at the pool sizes configured here). A
// server forced up by an operator skips its breaker.
func (p *Pool) pick(now time.Time) (*server, ticket) {
	blocked := false
	if p.leastConn {
		var best *server
		bestN := int64(math.MaxInt64)
		for _, u := range p.servers {
			if !u.usable() {
				continue
			}
			if u.forced.Load() != forceUp && !u.breaker.peek(now) {
				blocked = true
				continue
			}
			if c := u.inflight.Load(); c < bestN {
				best, bestN = u, c
			}
		}
		if best == nil {
			return nil, blockedTicket(blocked)
		}
		if best.forced.Load() == forceUp {
			return best, admitted
		}
		if t := best.breaker.allow(now); t != refused {
			return best, t
		}
		return nil, refused
	}
	n := uint32(len(p.servers))
	// Each probe of a server takes the next cursor value, so a down server
	// is skipped without handing its share to its neighbour (walking from
	// one start position would give the server after a down one twice the
	// traffic).
	for range n {
		u := p.servers[p.next.Add(1)%n]
		if !u.usable() {
			continue
		}
		if u.forced.Load() == forceUp {
			return u, admitted
		}
		if t := u.breaker.allow(now); t != refused {
			return u, t
		}
		blocked = true
	}
	return nil, blockedTicket(blocked)
}

// pickAllDown is pick when the health checks have marked every server
// down: it takes the next server an operator has not forced down and whose
// breaker lets the request through. Health checks time out first when a
// shop is slow under load, and a sale must not turn a slow shop into a
// closed one because of them (nginx never marks a lone server down; Envoy
// ignores health below its panic threshold); a shop that is really down
// fails these requests fast and opens its breakers.
func (p *Pool) pickAllDown(now time.Time) (*server, ticket) {
	n := uint32(len(p.servers))
	blocked := false
	for range n {
		u := p.servers[p.next.Add(1)%n]
		if u.forced.Load() == forceDown {
			continue
		}
		if t := u.breaker.allow(now); t != refused {
			p.allDown.Inc()
			return u, t
		}
		blocked = true
	}
	return nil, blockedTicket(blocked)
}

func blockedTicket(blocked bool) ticket {
	if blocked {
		return refused
	}
	return admitted
}

// breakerChanged logs and shows a server's breaker turning.
func (p *Pool) breakerChanged(u *server, open *metrics.Gauge, to int32) {
	level, msg := slog.LevelInfo, "origin server breaker closed"
	switch to {
	case stOpen:
		level, msg = slog.LevelWarn, "origin server breaker opened"
		open.Set(1)
	case stHalfOpen:
		msg = "origin server breaker half-open: probing"
	default:
		open.Set(0)
	}
	p.log.LogAttrs(context.Background(), level, msg, slog.String("origin", p.name), slog.String("server", u.addr))
}

// Force sets an operator's override of the server at addr: "down" takes
// it out of rotation, "up" keeps it in whatever its health checks and
// breaker say, "" returns it to them. It reports whether the pool has
// that server.
func (p *Pool) Force(addr, state string) bool {
	v := forceAuto
	switch state {
	case "down":
		v = forceDown
	case "up":
		v = forceUp
	}
	for _, u := range p.servers {
		if u.addr == addr {
			u.forced.Store(v)
			return true
		}
	}
	return false
}

// Limiter returns the origin's concurrency limiter (nil: no limit).
func (p *Pool) Limiter() *Limiter { return p.limit }
