package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// rejectRules: one request a minute per client IP, so a benchmark's
// client is rejected from its second request on.
const rejectRules = `
origins:
  shop: {servers: ["origin:80"]}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit: {rate: 1/m, key: ip}
`

// passRules: a sale route whose filters all pass (the window is open, the
// limit and the stock are far away), forwarding to the origin and
// observing its answer. The burst is large on purpose: each request's
// clock is read when it starts, so on a busy 2-core runner one that waits
// longer than the GCRA tolerance (burst × 1µs) before its check would be
// refused; that is the limiter being exact, not the pass path measured.
const passRules = `
origins:
  shop: {servers: ["origin:80"]}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - window: {start: "2020-01-01T00:00:00Z"}
      - ratelimit: {rate: 1000000/s, burst: 100000, key: ip}
      - stock: {stock: {"42": 1000000000}, mode: in_flight, sold_out: {header: X-Sold-Out}}
`

// admissionConfig loads yaml as a rule file.
func admissionConfig(tb testing.TB, yaml string) *rules.Config {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gateway.yaml")
	writeRules(tb, path, yaml)
	cfg, err := rules.Load(path)
	if err != nil {
		tb.Fatalf("rules.Load:\n%v", err)
	}
	return cfg
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// admissionHandler returns the handler of a Server on yaml (origin: an
// in-memory fasthttp server answering 200) and a context holding a
// POST /buy/42 from 203.0.113.7.
func admissionHandler(tb testing.TB, yaml string) (fasthttp.RequestHandler, *fasthttp.RequestCtx) {
	dial := inMemoryOrigin(tb, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"ok":true}`)
	})
	s, err := New(Options{Config: admissionConfig(tb, yaml), Dial: dial, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.env.Close)
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/buy/42")
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "application/json")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:5000")), nil)
	return s.Handler(), ctx
}

// benchAdmission runs RunParallel POSTs of /buy/42 through a gateway on yaml
// behind an in-memory listener, each answered with want.
func benchAdmission(b *testing.B, yaml string, want int) {
	dial := inMemoryOrigin(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"ok":true}`)
	})
	g := newGateway(b, admissionConfig(b, yaml), Options{Dial: dial, Logger: quietLogger()})
	c := g.client("203.0.113.7")
	c.MaxConns = 1024
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://shop.example/buy/42")
		req.Header.Set("Accept", "application/json")
		first := true
		for pb.Next() {
			if err := c.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if s := resp.StatusCode(); s != want && !first {
				b.Fatalf("status %d, want %d: %s", s, want, resp.Body())
			}
			first = false
		}
	})
}

// BenchmarkServerReject: a rate-limited client rejected by the full server
// (listener, pipeline, filter chain, prebuilt JSON 429 with Retry-After).
func BenchmarkServerReject(b *testing.B) { benchAdmission(b, rejectRules, 429) }

// BenchmarkServerAdmitPass: a purchase through window, rate limit and
// stock gate to the origin and back, observed.
func BenchmarkServerAdmitPass(b *testing.B) { benchAdmission(b, passRules, 200) }

// BenchmarkHandlerAdmissionReject: the handler alone rejecting, without
// the connection: what the pipeline plus the chain cost.
func BenchmarkHandlerAdmissionReject(b *testing.B) {
	h, ctx := admissionHandler(b, rejectRules)
	h(ctx)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}

// BenchmarkHandlerAdmissionPass: the handler alone admitting a purchase
// to an in-memory origin and observing the answer.
func BenchmarkHandlerAdmissionPass(b *testing.B) {
	h, ctx := admissionHandler(b, passRules)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}
