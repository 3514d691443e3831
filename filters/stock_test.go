package filters

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestStockTotal(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- stock: {stock: {\"1\": 2}, overbook: 1.5, sold_out: {status: 409, body_contains: sold_out}}\n")
	// 2 × 1.5 = 3 attempts let through, whatever the origin answers.
	for i := range 3 {
		v, r := verdictOf(c, "/buy/1")
		if v.Rejected() {
			t.Fatalf("attempt %d: %s", i, reason(v))
		}
		c.Observe(r, respond(502, ""))
	}
	v, r := verdictOf(c, "/buy/1")
	if reason(v) != "stock_exhausted" || r.Ctx.Response.StatusCode() != 410 {
		t.Fatalf("4th attempt: %s %d, want stock_exhausted 410", reason(v), r.Ctx.Response.StatusCode())
	}
	if v, _ := verdictOf(c, "/buy/unlisted"); v.Rejected() {
		t.Fatalf("item without stock entry: %s", reason(v))
	}
}

func TestStockInFlight(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- stock: {stock: {\"1\": 1}, mode: in_flight, sold_out: {status: 409}}\n")
	v, r1 := verdictOf(c, "/buy/1")
	if v.Rejected() {
		t.Fatal(reason(v))
	}
	v, r := verdictOf(c, "/buy/1")
	if reason(v) != "stock_busy" || r.Ctx.Response.StatusCode() != 503 || string(r.Ctx.Response.Header.Peek("Retry-After")) != "1" {
		t.Fatalf("second attempt in flight: %s %d", reason(v), r.Ctx.Response.StatusCode())
	}
	c.Observe(r1, respond(402, "payment declined"))
	if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
		t.Fatalf("slot not freed after the origin answered: %s", reason(v))
	}
}

func TestStockSoldOut(t *testing.T) {
	env := testEnv(t)
	var purged []string
	env.OnSoldOut = func(route, item string) { purged = append(purged, route+"/"+item) }
	c := mustCompile(t, env, "- stock: {stock: {\"1\": 100}, sold_out: {status: 409, header: X-Sold-Out, body_contains: sold_out}}\n")
	answers := []struct {
		name      string
		status    int
		body      string
		headers   []string
		wantMarks bool
	}{
		{"409 without the header is another conflict", 409, `{"error":"sold_out"}`, nil, false},
		{"header without 409", 200, "sold_out", []string{"X-Sold-Out", "1"}, false},
		{"no body marker", 409, "conflict", []string{"X-Sold-Out", "1"}, false},
		{"all markers", 409, `{"error":"sold_out"}`, []string{"X-Sold-Out", "1"}, true},
	}
	for _, a := range answers {
		v, r := verdictOf(c, "/buy/1")
		if v.Rejected() {
			t.Fatalf("%s: rejected before sold out: %s", a.name, reason(v))
		}
		c.Observe(r, respond(a.status, a.body, a.headers...))
		v, _ = verdictOf(c, "/buy/1")
		if got := reason(v) == "sold_out"; got != a.wantMarks {
			t.Fatalf("%s: sold out = %v, want %v", a.name, got, a.wantMarks)
		}
	}
	if len(purged) != 1 || purged[0] != "buy/1" {
		t.Errorf("OnSoldOut calls = %v, want [buy/1]", purged)
	}
	if n := env.Metrics.GetOrCreateCounter(`flashgate_filter_sold_out_total{route="buy"}`).Get(); n != 1 {
		t.Errorf("sold-out counter = %d, want 1", n)
	}
	// Later attempts at other items are not affected; a restock reopens.
	if v, _ := verdictOf(c, "/buy/2"); v.Rejected() {
		t.Fatalf("item 2: %s", reason(v))
	}
	if err := env.SetStock("buy", "1", 5); err != nil {
		t.Fatal(err)
	}
	if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
		t.Fatalf("after restock: %s", reason(v))
	}
	if err := env.SetStock("nope", "1", 5); err == nil || err.Error() != `route "nope" has no stock filter` {
		t.Errorf("SetStock on an unknown route: %v", err)
	}
}

// TestStockConcurrent: 2 000 simultaneous attempts for 100 units with
// overbook 1.2 let exactly 120 through.
func TestStockConcurrent(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- stock: {stock: {\"1\": 100}, overbook: 1.2, sold_out: {status: 409}}\n")
	var passed atomic.Int64
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if v, _ := verdictOf(c, "/buy/1", withIP("10.0.0."+string(rune('0'+w%10)))); !v.Rejected() {
					passed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := passed.Load(); got != 120 {
		t.Fatalf("%d attempts let through, want 120", got)
	}
}

// TestStockItemSpellings: "/buy/001" is item 1 for the gate, as the origin
// reads it, so padding the id does not buy extra attempts.
func TestStockItemSpellings(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- stock: {stock: {\"01\": 2}, sold_out: {status: 409}}\n")
	for i, path := range []string{"/buy/1", "/buy/001"} {
		if v, _ := verdictOf(c, path); v.Rejected() {
			t.Fatalf("attempt %d (%s): %s", i, path, reason(v))
		}
	}
	if v, _ := verdictOf(c, "/buy/0001"); reason(v) != "stock_exhausted" {
		t.Fatalf("third attempt via a padded id: %s, want stock_exhausted", reason(v))
	}
}

func TestCanonicalItem(t *testing.T) {
	for in, want := range map[string]string{"": "", "0": "0", "00": "0", "007": "7", "42": "42", "0x1": "0x1", "0a": "0a", "abc": "abc", "-01": "-01"} {
		if got := string(canonicalItem([]byte(in))); got != want {
			t.Errorf("canonicalItem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestChainRelease: a request the proxy answers without the origin gives
// its in-flight slot back.
func TestChainRelease(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- stock: {stock: {\"1\": 1}, mode: in_flight, sold_out: {status: 409}}\n")
	_, r := verdictOf(c, "/buy/1")
	c.Release(r)
	c.Release(r) // twice is harmless
	for i := range 2 {
		v, r := verdictOf(c, "/buy/1")
		if v.Rejected() {
			t.Fatalf("attempt %d after release: %s", i, reason(v))
		}
		c.Observe(r, respond(200, ""))
	}
}
