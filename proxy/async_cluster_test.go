package proxy

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/internal/fgtest"
)

const asyncClusterRules = `
origins:
  shop: {servers: ["%s"], max_conns: 64}
admission:
  keys: [{id: 1, secret: "0123456789abcdef0123456789abcdef"}]
cluster: {addrs: ["%s"], timeout: 500ms}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - stock: {sold_out: {status: 409, header: X-Sold-Out}}
    async: {queue: 1000, rate: 200/s, concurrency: 2, timeout: 2s, retries: 0, user: "cookie:uid"}
`

// TestAsyncClusterInstanceLost: two instances share the order queue in
// Redis. Instance A takes orders, the shop sells them, and A is lost
// before it can record the outcome (its answers never come back and its
// Redis connection is gone). Instance B takes A's unfinished deliveries
// over and delivers them again with the same Idempotency-Key: every
// accepted order ends with one outcome readable on B, and the shop sells
// each exactly once.
func TestAsyncClusterInstanceLost(t *testing.T) {
	const orders = 40
	srv := fgtest.StartRedis(t)
	shop := demo.New(demo.Options{Items: 1, Stock: 100})
	var mu sync.Mutex
	deliveries := map[string]int{}
	doors := map[bool]int{}
	lost := make(chan struct{})
	defer close(lost)                  // before the cleanups, which wait for the hung handlers
	front := func(hangs bool) string { // one door per instance, one shop behind
		ln := listen(t)
		s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
			mu.Lock()
			deliveries[string(ctx.Request.Header.Peek("Idempotency-Key"))]++
			doors[hangs]++
			mu.Unlock()
			shop.Handler()(ctx)
			if hangs {
				<-lost // sold, but the answer never reaches A
			}
		}}
		go s.Serve(ln) //nolint:errcheck // returns when shut down
		t.Cleanup(func() { _ = s.Shutdown() })
		return ln.Addr().String()
	}
	a, _ := fileGateway(t, fmt.Sprintf(asyncClusterRules, "%s", srv.Addr), front(true))
	ca := a.client("203.0.113.7")

	tickets := make([]string, orders)
	for i := range tickets {
		status, tk, r := asyncBuy(t, ca, "u"+strconv.Itoa(i))
		if status != 202 {
			t.Fatalf("purchase %d on A: %d %s", i, status, r.Body())
		}
		tickets[i] = tk.Ticket
	}
	// A's two workers get stuck in deliveries whose answers never come;
	// then A is lost: it can no longer tell Redis anything. B starts.
	for round := 0; ; round++ {
		mu.Lock()
		n := doors[true]
		mu.Unlock()
		if n >= 2 {
			break
		}
		if round == 100 {
			t.Fatal("A delivered nothing within 10s")
		}
		time.Sleep(100 * time.Millisecond) // A's dispatcher runs in real time
	}
	a.env.closeCluster()
	b, _ := fileGateway(t, fmt.Sprintf(asyncClusterRules, "%s", srv.Addr), front(false))
	cb := b.client("203.0.113.8")
	out := waitOutcomes(t, cb, tickets)
	for tk, r := range out {
		if r.StatusCode() != 200 || string(r.Header.Peek("X-Order-Outcome")) != "delivered" {
			t.Errorf("ticket %s on B: %d %q %s", tk, r.StatusCode(), r.Header.Peek("X-Order-Outcome"), r.Body())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	again := 0
	for _, tk := range tickets {
		if deliveries[tk] > 1 {
			again++
		}
	}
	if shop.Sold(1) != orders {
		t.Fatalf("the shop sold %d units for %d orders", shop.Sold(1), orders)
	}
	t.Logf("deliveries through A's door %d, B's %d", doors[true], doors[false])
	if again == 0 {
		t.Fatal("no delivery was taken over from A: the test proves nothing")
	}
	t.Logf("%d orders, %d delivered again by B after A was lost, %d sold", orders, again, shop.Sold(1))
}
