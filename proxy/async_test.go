package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
)

// countingShop is the demo shop on loopback, counting at its door what
// the gateway's dispatcher sends: purchases in flight (the most at once),
// their arrival times, and a hook that runs after the shop answered.
type countingShop struct {
	shop      *demo.Shop
	addr      string
	inFlight  atomic.Int32
	maxFlight atomic.Int32
	mu        sync.Mutex
	arrivals  []time.Time
	keys      map[string]int // Idempotency-Key → deliveries
	after     func(ctx *fasthttp.RequestCtx, first bool)
	before    func() // runs before the shop sees a purchase
}

func startCountingShop(t *testing.T, opts demo.Options) *countingShop {
	t.Helper()
	cs := &countingShop{shop: demo.New(opts), keys: map[string]int{}}
	h := cs.shop.Handler()
	ln := listen(t)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() {
			h(ctx)
			return
		}
		if cs.before != nil {
			cs.before()
		}
		n := cs.inFlight.Add(1)
		defer cs.inFlight.Add(-1)
		for m := cs.maxFlight.Load(); n > m && !cs.maxFlight.CompareAndSwap(m, n); m = cs.maxFlight.Load() {
		}
		key := string(ctx.Request.Header.Peek("Idempotency-Key"))
		cs.mu.Lock()
		cs.arrivals = append(cs.arrivals, time.Now())
		cs.keys[key]++
		first := cs.keys[key] == 1
		cs.mu.Unlock()
		h(ctx)
		if cs.after != nil {
			cs.after(ctx, first)
		}
	}}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	t.Cleanup(func() { _ = srv.Shutdown() })
	cs.addr = ln.Addr().String()
	return cs
}

const asyncRules = `
origins:
  shop: {servers: ["%s"], max_conns: 64}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - stock: {sold_out: {status: 409, header: X-Sold-Out}}
    async: {queue: %d, rate: %s, concurrency: %d, timeout: %s, retries: 2, user: "cookie:uid"}
`

type ticketAnswer struct {
	Ticket, State string
	StatusURL     string `json:"status_url"`
	Place         int
}

// post buys item 1 as uid through the gateway and returns the answer.
func asyncBuy(t testing.TB, c *fasthttp.HostClient, uid string) (int, ticketAnswer, *fasthttp.Response) {
	t.Helper()
	r := buy(t, c, "POST", "/buy/1", uid)
	var a ticketAnswer
	if r.StatusCode() == 202 {
		if err := json.Unmarshal(r.Body(), &a); err != nil {
			t.Fatalf("202 body %q: %v", r.Body(), err)
		}
		a.Ticket = string(r.Header.Peek("X-Order-Ticket"))
	}
	return r.StatusCode(), a, r
}

// readTicket reads a ticket's state as a program does.
func readTicket(t testing.TB, c *fasthttp.HostClient, ticket string) *fasthttp.Response {
	t.Helper()
	return buy(t, c, "GET", "/_flashgate/orders/"+ticket, "")
}

// waitOutcomes polls every ticket until each has an outcome (bounded).
func waitOutcomes(t *testing.T, c *fasthttp.HostClient, tickets []string) map[string]*fasthttp.Response {
	t.Helper()
	out := make(map[string]*fasthttp.Response, len(tickets))
	for round := 0; len(out) < len(tickets); round++ {
		if round == 600 {
			t.Fatalf("%d of %d tickets still pending after 60s", len(tickets)-len(out), len(tickets))
		}
		for _, tk := range tickets {
			if out[tk] != nil {
				continue
			}
			if r := readTicket(t, c, tk); r.StatusCode() != 202 {
				out[tk] = r
			}
		}
		if len(out) < len(tickets) {
			time.Sleep(100 * time.Millisecond) // polling a live server, as a buyer's page does
		}
	}
	return out
}

// TestAsyncBurst: 20,000 purchases in a burst for 100 units, delivered at
// 200/s with 8 in flight. The shop, counting at its door, never has more
// than 8 purchases at once nor more than 200 (plus the 8 that may arrive
// bunched by the network) in any second; every ticket has exactly one
// outcome; exactly 100 are sold, none twice; the rest are sold out, most
// of them answered at the edge without reaching the shop.
func TestAsyncBurst(t *testing.T) {
	const buyers, units = 20000, 100
	cs := startCountingShop(t, demo.Options{Items: 1, Stock: units})
	g, _ := fileGateway(t, fmt.Sprintf(asyncRules, "%s", buyers, "200/s", 8, "2s"), cs.addr)

	tickets := make([]string, buyers)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 {
		wg.Go(func() {
			c := g.client("203.0.113.7")
			for i := next.Add(1) - 1; i < buyers; i = next.Add(1) - 1 {
				status, a, r := asyncBuy(t, c, "u"+strconv.FormatInt(i, 10))
				switch {
				case status == 202 && len(a.Ticket) == 32 && a.StatusURL == "/_flashgate/orders/"+a.Ticket:
					tickets[i] = a.Ticket
				case status == 410: // sold out at the edge before queuing
				default:
					t.Errorf("purchase %d: %d %s", i, status, r.Body())
					return
				}
			}
		})
	}
	wg.Wait()
	var queued []string
	seen := map[string]bool{}
	for _, tk := range tickets {
		if tk != "" {
			if seen[tk] {
				t.Fatalf("ticket %s handed to two buyers", tk)
			}
			seen[tk] = true
			queued = append(queued, tk)
		}
	}
	out := waitOutcomes(t, g.client("203.0.113.7"), queued)

	sold, soldOutEdge, soldOutShop := 0, 0, 0
	orderIDs := map[string]bool{}
	for tk, r := range out {
		switch o := string(r.Header.Peek("X-Order-Outcome")); {
		case o == "delivered" && r.StatusCode() == 200:
			sold++
			var body struct{ Order int64 }
			_ = json.Unmarshal(r.Body(), &body)
			id := strconv.FormatInt(body.Order, 10)
			if orderIDs[id] {
				t.Errorf("order %s answered to two tickets", id)
			}
			orderIDs[id] = true
		case o == "delivered" && r.StatusCode() == 409:
			soldOutShop++
		case o == "sold_out":
			soldOutEdge++
		default:
			t.Errorf("ticket %s: outcome %q %d %s", tk, o, r.StatusCode(), r.Body())
		}
	}
	edgeRejected := buyers - len(queued)
	t.Logf("queued %d, sold %d, sold out: %d by the shop, %d drained at the edge, %d refused before queuing; shop saw %d deliveries, at most %d at once",
		len(queued), sold, soldOutShop, soldOutEdge, edgeRejected, len(cs.arrivals), cs.maxFlight.Load())
	if sold != units || cs.shop.Sold(1) != units {
		t.Errorf("sold %d tickets, shop sold %d; want %d", sold, cs.shop.Sold(1), units)
	}
	if soldOutEdge+edgeRejected < 9*(buyers-units)/10 {
		t.Errorf("only %d of %d sold-out answers were given at the edge", soldOutEdge+edgeRejected, buyers-units)
	}
	if m := cs.maxFlight.Load(); m > 8 {
		t.Errorf("the shop had %d purchases at once, want at most 8", m)
	}
	for i := range cs.arrivals {
		j := i
		for j < len(cs.arrivals) && cs.arrivals[j].Sub(cs.arrivals[i]) < time.Second {
			j++
		}
		if j-i > 200+8 {
			t.Fatalf("%d purchases reached the shop within one second, want at most 200 (+8 bunched)", j-i)
		}
	}
	for key, n := range cs.keys {
		if n > 1 {
			t.Errorf("ticket %s was delivered %d times without a lost answer", key, n)
		}
	}
}

// TestAsyncOneTicketPerUserAndItem: asking again while pending returns
// the same ticket; a full queue answers 503 with Retry-After.
func TestAsyncOneTicketPerUserAndItem(t *testing.T) {
	// A dead origin: nothing is delivered, so tickets stay pending.
	g, _ := fileGateway(t, fmt.Sprintf(asyncRules, "%s", 2, "1/h", 1, "1s"), deadAddr(t))
	c := g.client("203.0.113.7")
	_, first, _ := asyncBuy(t, c, "ann")
	status, again, _ := asyncBuy(t, c, "ann")
	if status != 202 || again.Ticket != first.Ticket {
		t.Fatalf("asking again: %d ticket %s, want 202 and the same ticket %s", status, again.Ticket, first.Ticket)
	}
	// The queue holds 2 waiting tickets; ann's leaves it when its delivery
	// starts, so wait for that before filling the queue, or whether dan
	// finds it full depends on when the dispatcher ran.
	for round := 0; ; round++ {
		if bytes.Contains(readTicket(t, c, first.Ticket).Body(), []byte(`"state":"delivering"`)) {
			break
		}
		if round == 500 {
			t.Fatal("ann's ticket never started delivering")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, uid := range []string{"bob", "cat"} {
		if status, _, _ := asyncBuy(t, c, uid); status != 202 {
			t.Fatalf("%s into a queue with room: %d, want 202", uid, status)
		}
	}
	status, _, r := asyncBuy(t, c, "dan")
	if status != 503 || string(r.Header.Peek("Retry-After")) == "" {
		t.Fatalf("full queue: %d Retry-After %q, want 503 with Retry-After", status, r.Header.Peek("Retry-After"))
	}
	if r := readTicket(t, c, "0123456789abcdef0123456789abcdef"); r.StatusCode() != 404 {
		t.Errorf("unknown ticket: %d, want 404", r.StatusCode())
	}
}

// TestAsyncRetrySellsOnce: the shop takes the order but its answer is
// lost (the delivery times out); the redelivery carries the same
// Idempotency-Key and the shop answers the first answer again: one sale.
func TestAsyncRetrySellsOnce(t *testing.T) {
	cs := startCountingShop(t, demo.Options{Items: 1, Stock: 10})
	cs.after = func(ctx *fasthttp.RequestCtx, first bool) {
		if first {
			time.Sleep(700 * time.Millisecond) // the answer is late: the delivery times out
		}
	}
	g, _ := fileGateway(t, fmt.Sprintf(asyncRules, "%s", 100, "100/s", 2, "300ms"), cs.addr)
	c := g.client("203.0.113.7")
	_, a, _ := asyncBuy(t, c, "ann")
	r := waitOutcomes(t, c, []string{a.Ticket})[a.Ticket]
	if r.StatusCode() != 200 || string(r.Header.Peek("X-Order-Outcome")) != "delivered" {
		t.Fatalf("outcome: %d %s", r.StatusCode(), r.Body())
	}
	cs.mu.Lock()
	deliveries := cs.keys[a.Ticket]
	cs.mu.Unlock()
	if deliveries < 2 || cs.shop.Sold(1) != 1 {
		t.Fatalf("delivered %d times, sold %d; want a retry and one sale", deliveries, cs.shop.Sold(1))
	}
}

// TestAsyncQueueSurvivesReload: an unrelated edit (another route, a new
// rate) keeps the route's queue: a pending ticket stays readable and the
// buyer asking again still gets it.
func TestAsyncQueueSurvivesReload(t *testing.T) {
	g, path := fileGateway(t, fmt.Sprintf(asyncRules, "%s", 10, "1/h", 1, "1s"), deadAddr(t))
	c := g.client("203.0.113.7")
	asyncBuy(t, c, "ann") // taken by the dispatcher at once
	_, first, _ := asyncBuy(t, c, "bob")
	writeRules(t, path, fmt.Sprintf(asyncRules, deadAddr(t), 10, "2/h", 1, "1s")+
		"  - {name: home, methods: [GET], path: /, origin: shop}\n")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := readTicket(t, c, first.Ticket); r.StatusCode() != 202 {
		t.Fatalf("pending ticket after reload: %d %s", r.StatusCode(), r.Body())
	}
	if _, again, _ := asyncBuy(t, c, "bob"); again.Ticket != first.Ticket {
		t.Fatalf("asking again after reload: ticket %s, want %s", again.Ticket, first.Ticket)
	}
}
