package proxy

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// manualTicker is a TickerFunc whose ticks the test sends. The health loop
// takes one tick at a time, so a send returns only once the loop is idle:
// the round started by the previous tick has finished.
type manualTicker struct{ c chan time.Time }

func newManualTicker() *manualTicker { return &manualTicker{c: make(chan time.Time)} }

func (m *manualTicker) start(time.Duration) (<-chan time.Time, func()) { return m.c, func() {} }

func TestHealthCheckMarksDownAndUp(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/healthz" && !healthy.Load() {
			ctx.SetStatusCode(503)
		}
	})
	cfg := testConfig(addr, testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Origins[0].Health = rules.HealthCheck{Path: "/healthz", Interval: time.Second, Timeout: time.Second, Fails: 2, Passes: 3,
		AllDown: rules.AllDownRefuse}
	// The ticker never ticks: this test runs the probe rounds itself.
	g := newGateway(t, cfg, Options{Ticker: newManualTicker().start})
	pool := g.Snapshot().pools["shop"]

	for _, step := range []struct {
		healthy  bool
		wantDown bool
		why      string
	}{
		{false, false, "1 failed probe, fails is 2"},
		{false, true, "2 failed probes"},
		{true, true, "1 good probe, passes is 3"},
		{true, true, "2 good probes"},
		{true, false, "3 good probes"},
	} {
		healthy.Store(step.healthy)
		pool.CheckHealth()
		if down := !pool.Status()[0].Up; down != step.wantDown {
			t.Fatalf("after %s: down = %v, want %v", step.why, down, step.wantDown)
		}
		if step.wantDown {
			if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 502 {
				t.Errorf("with the only server down: status %d, want 502", resp.StatusCode())
			}
			if m := g.metricsText(); !strings.Contains(m, `flashgate_upstream_up{origin="shop",server="`+addr+`"} 0`) {
				t.Errorf("upstream gauge not 0:\n%s", grep(m, "upstream_up"))
			}
		}
	}
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 {
		t.Errorf("after recovery: status %d, want 200", resp.StatusCode())
	}
	logs := g.logs.String()
	if !strings.Contains(logs, "origin server marked down") || !strings.Contains(logs, "origin server back up") {
		t.Errorf("want log lines for the server going down and back up:\n%s", logs)
	}
}

// TestAllServersDownStillServed: when the health checks mark every server
// down (a shop too slow for its checks under load) requests still go to
// them by default, counted; a server an operator forced down is skipped.
func TestAllServersDownStillServed(t *testing.T) {
	var hits [2]atomic.Int32
	a := startOrigin(t, func(ctx *fasthttp.RequestCtx) { hits[0].Add(1) })
	b := startOrigin(t, func(ctx *fasthttp.RequestCtx) { hits[1].Add(1) })
	cfg := testConfig(a, testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Origins[0].Servers = []string{a, b}
	g := newGateway(t, cfg, Options{Ticker: newManualTicker().start})
	pool := g.Snapshot().pools["shop"]
	pool.SetUp(a, false)
	pool.SetUp(b, false)
	pool.Force(b, "down")
	for range 4 {
		if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 {
			t.Fatalf("every server marked down: status %d, want 200 (all_down: send)", resp.StatusCode())
		}
	}
	if hits[0].Load() != 4 || hits[1].Load() != 0 {
		t.Errorf("served by a %d, by b (forced down) %d; want 4 and 0", hits[0].Load(), hits[1].Load())
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_origin_all_down_total{origin="shop"} 4`) {
		t.Errorf("all-down requests not counted:\n%s", grep(m, "all_down"))
	}
}

func TestNoRetryOfFailedRequest(t *testing.T) {
	var n atomic.Int32
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		n.Add(1)
		ctx.Conn().Close() // die mid-request: a retrying client would send it again
	})
	cfg := testConfig(addr, testRoute(t, "buy", "/buy/{id}", "shop"))
	g := newGateway(t, cfg, Options{})
	for _, m := range []string{"POST", "GET"} {
		n.Store(0)
		if resp := g.do(t, m, "/buy/1", nil); resp.StatusCode() != 502 {
			t.Errorf("%s: status %d, want 502", m, resp.StatusCode())
		}
		if n.Load() != 1 {
			t.Errorf("%s reached the origin %d times, want exactly once", m, n.Load())
		}
	}
}
