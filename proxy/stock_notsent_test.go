package proxy

import (
	"testing"

	"flashgate/demo"
)

const notSentRules = `
origins:
  shop:
    servers: [%s]
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - stock: {stock: {"1": 2}, sold_out: {header: X-Sold-Out}}
`

// TestStockGateGivesBackAttemptsNeverSent: an attempt the gateway answers
// with an error before sending it (here: the only server forced down, so
// no server may take it) never reached the shop, so the stock gate gives
// its unit back. Counted, two such failures would close a two-unit sale
// that sold nothing.
func TestStockGateGivesBackAttemptsNeverSent(t *testing.T) {
	so := startShop(t, demo.Options{Items: 1, Stock: 2})
	g, _ := fileGateway(t, notSentRules, so.addr)
	c := g.client("203.0.113.7")
	pool := g.Snapshot().pools["shop"]
	addr := pool.Status()[0].Server

	pool.Force(addr, "down")
	for i := range 3 {
		if r := buy(t, c, "POST", "/buy/1", "u"); r.StatusCode() != 502 {
			t.Fatalf("attempt %d with the server forced down: %d, want 502", i, r.StatusCode())
		}
	}
	pool.Force(addr, "")
	for i, uid := range []string{"alice", "bob"} {
		if r := buy(t, c, "POST", "/buy/1", uid); r.StatusCode() != 200 {
			t.Fatalf("purchase %d once the server is back: %d %s (filter %q), want 200", i, r.StatusCode(), r.Body(), r.Header.Peek("X-Flashgate-Filter"))
		}
	}
	if n := so.shop.Sold(1); n != 2 {
		t.Errorf("the shop sold %d, want both units", n)
	}
	if so.buys.Load() != 2 {
		t.Errorf("the shop saw %d purchases, want 2 (the refused attempts never reached it)", so.buys.Load())
	}
}
