package proxy

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/orders"
)

// asyncBenchRules: a buy route that queues every purchase. The rate is
// one an hour, so the dispatcher takes one job and waits: the benchmark
// measures accepting, and empties the queue itself between batches.
const asyncBenchRules = `
origins:
  shop: {servers: ["origin:80"]}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - stock: {sold_out: {status: 409, header: X-Sold-Out}}
    async: {queue: 20000, rate: 1/h, concurrency: 1, user: "header:X-Buyer"}
`

// benchAsyncAccept is one purchase accepted into the queue through the
// handler (pipeline, admission, 202 with the ticket), each from another
// buyer. Every 10,000 the queue is emptied with the timer stopped.
func benchAsyncAccept(b *testing.B) {
	h, aq, ctx := asyncBenchHandler(b)
	var buyer []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if i%10000 == 0 {
			b.StopTimer()
			drain(aq)
			b.StartTimer()
		}
		buyer = strconv.AppendInt(buyer[:0], int64(i), 10)
		ctx.Request.Header.SetBytesV("X-Buyer", buyer)
		ctx.Response.Reset()
		h(ctx)
	}
	if ctx.Response.StatusCode() != 202 {
		b.Fatalf("status %d, want 202: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// asyncBenchHandler returns a Server's handler on asyncBenchRules, its buy
// route's queue, and a context holding a JSON POST /buy/42.
func asyncBenchHandler(b *testing.B) (fasthttp.RequestHandler, *asyncQueue, *fasthttp.RequestCtx) {
	s, err := New(Options{Config: admissionConfig(b, asyncBenchRules), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.env.Close)
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/buy/42")
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "application/json")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:5000")), nil)
	return s.Handler(), s.Snapshot().Route("buy").Async, ctx
}

// drain finishes every queued job, as deliveries would.
func drain(aq *asyncQueue) {
	for aq.q.Len() > 0 {
		j, err := aq.q.Next(context.Background())
		if err != nil {
			return
		}
		aq.q.Finish(j, orders.Result{Outcome: orders.Delivered, Status: 200}, 0)
	}
}

// BenchmarkAsyncAccept: ns/op and allocs/op of accepting a purchase.
func BenchmarkAsyncAccept(b *testing.B) { benchAsyncAccept(b) }

// BenchmarkAsyncAcceptVsReject runs accepting a purchase and rejecting one
// with 429 (BenchmarkHandlerRejectBrowser's path, JSON) in the same run,
// one after the other: compare their ns/op as a ratio, which is steadier
// than either time on a shared machine.
func BenchmarkAsyncAcceptVsReject(b *testing.B) {
	b.Run("accept", benchAsyncAccept)
	b.Run("reject429", func(b *testing.B) {
		h, ctx := admissionHandler(b, rejectRules)
		h(ctx)
		b.ReportAllocs()
		for b.Loop() {
			ctx.Response.Reset()
			h(ctx)
		}
		if ctx.Response.StatusCode() != 429 {
			b.Fatalf("status %d, want 429", ctx.Response.StatusCode())
		}
	})
}
