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
	cfg.Origins[0].Health = rules.HealthCheck{Path: "/healthz", Interval: time.Second, Timeout: time.Second, Fails: 2, Passes: 3}
	// The ticker never ticks: this test runs the probe rounds itself.
	g := newGateway(t, cfg, Options{Ticker: newManualTicker().start})
	pool := g.Snapshot().pools["shop"]
	up := pool.servers[0]

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
		pool.health.checkOnce()
		if up.down.Load() != step.wantDown {
			t.Fatalf("after %s: down = %v, want %v", step.why, up.down.Load(), step.wantDown)
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

// TestHealthLoopRunsOnTicks checks the goroutine: probes run on ticks and
// stop with the pool.
func TestHealthLoopRunsOnTicks(t *testing.T) {
	cfg := testConfig(deadAddr(t), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Origins[0].Health = rules.HealthCheck{Path: "/healthz", Fails: 1}
	tick := newManualTicker()
	env := NewEnv(EnvOptions{Ticker: tick.start})
	snap, err := Compile(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	tick.c <- time.Time{}
	tick.c <- time.Time{} // accepted only after the first round finished
	if !snap.pools["shop"].servers[0].down.Load() {
		t.Error("a refused probe with fails: 1 did not mark the server down")
	}
	env.Close() // stops the loop; a leaked goroutine would block the next send forever
	select {
	case tick.c <- time.Time{}:
		t.Error("the health loop still runs after Close")
	default:
	}
}

func TestBalancing(t *testing.T) {
	var hits [3]atomic.Int32
	var addrs []string
	for i := range hits {
		addrs = append(addrs, startOrigin(t, func(*fasthttp.RequestCtx) { hits[i].Add(1) }))
	}
	for _, balance := range []string{"round_robin", "least_conn"} {
		t.Run(balance, func(t *testing.T) {
			p := newPool(&rules.Origin{Name: "shop", Servers: addrs, Balance: balance}, NewMetrics().set, nil)
			defer p.Close()
			p.servers[1].down.Store(true)
			seen := map[string]int{}
			for range 6 {
				seen[p.pick().addr]++
			}
			if seen[addrs[1]] != 0 {
				t.Errorf("picked the server marked down %d times", seen[addrs[1]])
			}
			if balance == "round_robin" && (seen[addrs[0]] != 3 || seen[addrs[2]] != 3) {
				t.Errorf("round robin over 2 healthy servers: %v, want 3 each", seen)
			}
			p.servers[0].inflight.Store(5)
			if balance == "least_conn" && p.pick() != p.servers[2] {
				t.Error("least_conn did not pick the idle server")
			}
			for _, u := range p.servers {
				u.down.Store(true)
			}
			if p.pick() != nil {
				t.Error("picked a server with all of them down")
			}
		})
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
