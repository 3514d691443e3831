package origin

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// TestArmedDeadlineRule: an armed deadline serves a request only when it
// fires no sooner than asked and at most its slack (1/16 of the time left
// when armed) later; anything else re-arms.
func TestArmedDeadlineRule(t *testing.T) {
	var a armedDeadline
	if !a.keeps(time.Time{}) {
		t.Error("no deadline armed and none asked: must keep")
	}
	t0 := time.Now().Add(16 * time.Second)
	if a.keeps(t0) {
		t.Error("no deadline armed: must arm")
	}
	at := a.arm(t0)
	if at.Before(t0) {
		t.Fatalf("armed %v, before the deadline asked for", at.Sub(t0))
	}
	if a.slack <= 900*time.Millisecond || a.slack > time.Second {
		t.Fatalf("slack %v for 16s left, want just under 1s", a.slack)
	}
	for _, tc := range []struct {
		ask  time.Duration // asked deadline relative to t0
		keep bool
	}{
		{0, true},                          // fires a whole slack late: the most allowed
		{a.slack / 2, true},                // a later request within the slack
		{a.slack, true},                    // fires exactly when asked
		{a.slack + time.Nanosecond, false}, // would fire before the asked deadline
		{-time.Nanosecond, false},          // would fire more than the slack late
		{-10 * time.Second, false},         // a much shorter timeout
		{time.Hour, false},                 // a much longer one
	} {
		if got := a.keeps(t0.Add(tc.ask)); got != tc.keep {
			t.Errorf("asked t0%+v with armed t0+%v: keeps = %v, want %v", tc.ask, a.slack, got, tc.keep)
		}
	}
	if a.keeps(time.Time{}) {
		t.Error("a deadline is armed and none asked: must clear it")
	}
	if got := a.arm(time.Time{}); !got.IsZero() || !a.keeps(time.Time{}) {
		t.Error("clearing did not clear")
	}
	// A deadline asked for in the past arms exactly (no slack), so an
	// exchange already out of time fails at once.
	past := time.Now().Add(-time.Second)
	if got := a.arm(past); !got.Equal(past) {
		t.Errorf("armed %v for a past deadline, want it unchanged", got.Sub(past))
	}
}

// TestPoolTimeoutOnReusedConnection: on a keep-alive connection whose
// deadlines were armed by a fast exchange, a slow answer still fails as a
// timeout, and not before the limit.
func TestPoolTimeoutOnReusedConnection(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var conns atomic.Int32
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if ctx.ConnRequestNum() == 1 {
			conns.Add(1)
		}
		if string(ctx.Path()) == "/slow" {
			<-release
		}
	})
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}}, Options{})
	defer p.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/fast")
	const limit = 200 * time.Millisecond
	for range 3 {
		if err := p.Do(req, resp, limit); err != nil {
			t.Fatalf("fast exchange: %v", err)
		}
	}
	req.SetRequestURI("http://" + addr + "/slow")
	start := time.Now()
	err := p.Do(req, resp, limit)
	took := time.Since(start)
	if Classify(err) != KindTimeout {
		t.Fatalf("slow exchange: err %v (kind %v), want a timeout", err, Classify(err))
	}
	if took < limit {
		t.Errorf("cut after %v, before the %v limit", took, limit)
	}
	if took > 2*time.Second {
		t.Errorf("cut after %v; the limit is %v", took, limit)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the origin saw %d connections, want the slow request on the reused one", n)
	}
}

// TestRouteTimeoutOverridesReadTimeout: the timeout passed to Do (a
// route's) bounds the exchange, even when it is longer than the origin's
// read_timeout (docs/config.md: "A route's timeout overrides it").
func TestRouteTimeoutOverridesReadTimeout(t *testing.T) {
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(300 * time.Millisecond) // the slow origin itself
		ctx.SetBodyString("late but in time")
	})
	p := New(&rules.Origin{Name: "shop", Servers: []string{addr}, ReadTimeout: 50 * time.Millisecond}, Options{})
	defer p.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/")
	if err := p.Do(req, resp, 5*time.Second); err != nil {
		t.Fatalf("a 5s route timeout over a 50ms read_timeout: %v", err)
	}
	if string(resp.Body()) != "late but in time" {
		t.Errorf("body %q", resp.Body())
	}
}
