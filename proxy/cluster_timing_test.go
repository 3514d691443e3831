package proxy

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

// limitedRules is one GET route under a global rate limit far above the
// load (every request admitted; the burst is wide, a tolerance of 100ms,
// because in memory each request brings the clock it read when it started), with state in memory or, when CLUSTER is
// replaced by a cluster section, in Redis.
const limitedRules = `
origins:
  shop: {servers: ["origin:80"]}
admission:
  keys: [{id: 1, secret: "0123456789abcdef0123456789abcdef"}]
CLUSTER
routes:
  - name: limited
    path: /limited
    origin: shop
    filters:
      - ratelimit: {rate: 10000000/s, burst: 1000000, scope: global}
`

// processCPU is this process's user+system CPU time in nanoseconds: on a
// shared machine wall time per request measures the neighbours as much as
// the gateway, CPU per request much less (redis-server's own CPU is not
// in it).
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkServerRateLimited is the throughput of a rate-limited route
// through the whole server with the limit's state in memory, in Redis
// checked per request (exact), and in Redis leased 100 cells at a time
// (batched). Compare the three ns/op of one run: the machine is shared.
func BenchmarkServerRateLimited(b *testing.B) {
	srv := fgtest.StartRedis(b)
	for _, mode := range []struct{ name, cluster string }{
		{"memory", ""},
		{"redis-exact", fmt.Sprintf("cluster: {addrs: [%q], timeout: 1s}", srv.Addr)},
		{"redis-batched", fmt.Sprintf("cluster: {addrs: [%q], timeout: 1s, lease: 100}", srv.Addr)},
	} {
		b.Run(mode.name, func(b *testing.B) {
			yaml := strings.Replace(limitedRules, "CLUSTER", mode.cluster, 1)
			dial := inMemoryOrigin(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
			g := newGateway(b, admissionConfig(b, yaml), Options{Dial: dial, Logger: quietLogger()})
			c := g.client("203.0.113.7")
			c.MaxConns = 1024
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			defer func() { b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.SetRequestURI("http://shop.example/limited")
				for pb.Next() {
					if err := c.Do(req, resp); err != nil {
						b.Fatal(err)
					}
					if resp.StatusCode() != 200 {
						b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
					}
				}
			})
		})
	}
}
