package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Requests are counted per route and class; one in timedEvery of them
// (the first, then every timedEvery-th) is timed into the latency
// histogram, with the time the injected clock says it took (each read
// advances it 3 ms, and a request reads it a few times).
func TestRequestLatencySampled(t *testing.T) {
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	var tick time.Duration
	clock := func() time.Time { tick += 3 * time.Millisecond; return time.Unix(1800000000, 0).Add(tick) }
	g := newGateway(t, testConfig(addr, testRoute(t, "page", "/page", "shop")), Options{Now: clock})
	for range 2*timedEvery + 1 {
		if resp := g.do(t, "GET", "/page", nil); resp.StatusCode() != 200 {
			t.Fatalf("status %d", resp.StatusCode())
		}
	}
	m := g.metricsText()
	for _, want := range []string{
		`flashgate_requests_total{route="page",class="2xx"} 33`,
		`flashgate_request_duration_seconds_count{route="page",class="2xx"} 3`,
		`flashgate_request_duration_seconds_bucket{route="page",class="2xx",le="0.0025"} 0`,
		`flashgate_request_duration_seconds_bucket{route="page",class="2xx",le="0.025"} 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
