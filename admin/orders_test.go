package admin

import (
	"strconv"
	"testing"
	"time"
)

// TestOrdersAPIShowsThePurchaseQueue: purchases on the async route's
// public port show up in GET /api/orders as delivered, with the route's
// configured rate, concurrency and queue limit, and as a queue in memory.
func TestOrdersAPIShowsThePurchaseQueue(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	const orders = 3
	for i := range orders {
		if a := call(t, "POST", g.public+"/order/1", "", "", "Host", "shop.test", "X-Buyer", "b"+strconv.Itoa(i)); a.status != 202 {
			t.Fatalf("purchase %d: %d %s", i, a.status, a.body)
		}
	}
	var q map[string]any
	for round := 0; ; round++ {
		a := call(t, "GET", g.admin+"/api/orders", "", "")
		if a.status != 200 || len(a.list) != 1 {
			t.Fatalf("GET /api/orders: %d %s", a.status, a.body)
		}
		q = a.list[0].(map[string]any)
		if q["delivered"] == float64(orders) && q["in_delivery"] == 0.0 { // a worker counts the outcome, then returns
			break
		}
		if round == 100 {
			t.Fatalf("GET /api/orders after 10s: %s", a.body)
		}
		time.Sleep(100 * time.Millisecond) // the dispatcher delivers in real time
	}
	want := map[string]any{"route": "order", "durable": false, "waiting": 0.0, "in_delivery": 0.0,
		"sold_out": 0.0, "expired": 0.0, "failed": 0.0, "limit": 100.0, "rate": "1000/s", "concurrency": 2.0}
	for k, v := range want {
		if q[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, q[k], v, q)
		}
	}
	if n := g.originHits("/order/1"); n != orders {
		t.Errorf("the origin got %d orders, want %d", n, orders)
	}
}
