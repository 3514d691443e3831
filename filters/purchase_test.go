package filters

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestPurchaseLimit(t *testing.T) {
	alice, bob := withCookie("uid", "alice"), withCookie("uid", "bob")
	type step struct {
		path   string
		user   reqOpt
		status int // origin's answer; 0 = not forwarded (rejected)
		want   string
	}
	tests := []struct {
		name, yaml string
		steps      []step
	}{
		{"one per item", "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n", []step{
			{"/buy/1", alice, 200, "pass"},
			{"/buy/1", alice, 0, "purchase_limit"},
			{"/buy/2", alice, 200, "pass"},
			{"/buy/1", bob, 200, "pass"},
		}},
		{"failed purchases do not count", "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n", []step{
			{"/buy/1", alice, 409, "pass"},
			{"/buy/1", alice, 502, "pass"},
			{"/buy/1", alice, 201, "pass"},
			{"/buy/1", alice, 0, "purchase_limit"},
		}},
		{"custom success statuses", "- purchase_limit: {max: 1, key: \"cookie:uid\", success: [302]}\n", []step{
			{"/buy/1", alice, 200, "pass"},
			{"/buy/1", alice, 302, "pass"},
			{"/buy/1", alice, 0, "purchase_limit"},
		}},
		{"two per sale", "- purchase_limit: {max: 2, per: sale, key: \"cookie:uid\"}\n", []step{
			{"/buy/1", alice, 200, "pass"},
			{"/buy/2", alice, 200, "pass"},
			{"/buy/3", alice, 0, "purchase_limit"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, testEnv(t), tt.yaml)
			for i, s := range tt.steps {
				v, r := verdictOf(c, s.path, s.user)
				if reason(v) != s.want {
					t.Fatalf("step %d: %s, want %s", i, reason(v), s.want)
				}
				if !v.Rejected() {
					c.Observe(r, respond(s.status, ""))
				}
			}
		})
	}
}

// TestPurchaseLimitConcurrent: 64 simultaneous attempts by one user with
// max 1 let exactly one through to the origin.
func TestPurchaseLimitConcurrent(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n")
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, _ := verdictOf(c, "/buy/1", withCookie("uid", "alice")); !v.Rejected() {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := passed.Load(); got != 1 {
		t.Fatalf("%d of 64 concurrent attempts passed, want 1", got)
	}
}

// TestPurchaseReservationCanceled: when the stock gate after the purchase
// limit rejects, the user's reserved purchase is given back.
func TestPurchaseReservationCanceled(t *testing.T) {
	c := mustCompile(t, testEnv(t), `- purchase_limit: {max: 1, key: "cookie:uid"}
- stock: {stock: {"1": 1}, sold_out: {status: 409}}
`)
	v, r := verdictOf(c, "/buy/1", withCookie("uid", "bob"))
	if v.Rejected() {
		t.Fatal(reason(v))
	}
	c.Observe(r, respond(200, ""))
	if v, _ := verdictOf(c, "/buy/1", withCookie("uid", "alice")); reason(v) != "stock_exhausted" {
		t.Fatalf("alice: %s, want stock_exhausted", reason(v))
	}
	if v, _ := verdictOf(c, "/buy/2", withCookie("uid", "alice")); v.Rejected() {
		t.Fatalf("alice's canceled reservation still counts: %s", reason(v))
	}
}
