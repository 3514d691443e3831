package filters

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const holdSecret32 = "a-shop-confirmation-key-32-bytes!!"

func reserveYAML(stock int, window string) string {
	return "- stock: {stock: {\"1\": " + strconv.Itoa(stock) + "}, mode: reserve, sold_out: {status: 409}, " +
		"reserve: {window: " + window + ", secret: \"" + holdSecret32 + "\"}}\n"
}

// accept runs one attempt at item 1 and has the shop accept it as order.
func accept(t *testing.T, c *Chain, order string, opts ...reqOpt) {
	t.Helper()
	v, r := verdictOf(c, "/buy/1", opts...)
	if v.Rejected() {
		t.Fatalf("attempt for %s: %s", order, reason(v))
	}
	resp := respond(200, `{"ok":true}`, "X-Order-Id", order)
	c.Observe(r, resp)
	if got := string(resp.Header.Peek("X-Hold-Expires-In")); got == "" {
		t.Fatalf("order %s: no X-Hold-Expires-In on the accepted answer", order)
	}
	if got := string(resp.Header.Peek("X-Hold-Status")); got != "/_flashgate/hold/buy?order="+order {
		t.Fatalf("order %s: X-Hold-Status %q", order, got)
	}
}

// confirm posts the shop's confirmation to the hold page.
func confirm(env *Env, order, outcome, sig string, opts ...reqOpt) (int, string) {
	form := url.Values{"order": {order}, "outcome": {outcome}, "sig": {sig}}.Encode()
	ctx := callPage(env.pages[HoldPath("buy")], "POST", HoldPath("buy"), form, opts...)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

func signed(outcome, order string) string {
	return HoldSignature([]byte(holdSecret32), outcome, order)
}

func lookup(t *testing.T, env *Env, order string, opts ...reqOpt) holdAnswer {
	t.Helper()
	ctx := callPage(env.pages[HoldPath("buy")], "GET", HoldPath("buy")+"?order="+order, "",
		append(opts, withHeader("Accept", "application/json"))...)
	var a holdAnswer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil {
		t.Fatalf("hold lookup %s: %v: %s", order, err, ctx.Response.Body())
	}
	return a
}

func TestStockReserveHoldsUntilConfirmed(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, reserveYAML(2, "10m"))
	accept(t, c, "o1")
	accept(t, c, "o2")
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("two units held, third attempt: %s, want stock_busy", reason(v))
	}
	if a := lookup(t, env, "o1"); a.State != "held" || a.ExpiresInMS != 600_000 || a.Item != "1" || a.Units != 1 {
		t.Fatalf("lookup o1 = %+v, want held for 600000 ms", a)
	}
	// The buyer's page shows the time left.
	page := callPage(env.pages[HoldPath("buy")], "GET", HoldPath("buy")+"?order=o1", "")
	if body := string(page.Response.Body()); !strings.Contains(body, "10m 0s") || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("hold page lacks the time left or its refresh:\n%s", body)
	}

	// Paid: the unit stays sold.
	if code, body := confirm(env, "o1", "paid", signed("paid", "o1")); code != 200 || !strings.Contains(body, `"released"`) {
		t.Fatalf("paid confirmation: %d %s", code, body)
	}
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("after o1 paid: %s, want stock_busy (o1 sold, o2 held)", reason(v))
	}
	// Cancelled: the unit goes to the next buyer.
	if code, body := confirm(env, "o2", "cancelled", signed("cancelled", "o2")); code != 200 {
		t.Fatalf("cancel confirmation: %d %s", code, body)
	}
	accept(t, c, "o3")
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("o3 holds the returned unit, next attempt: %s, want stock_busy", reason(v))
	}
	if a := lookup(t, env, "o1"); a.State != "none" {
		t.Fatalf("paid order still listed: %+v", a)
	}
}

// TestStockReserveForgedConfirmation: a confirmation with a wrong
// signature, one signed for another order or outcome, or a replay of one
// already used changes nothing.
func TestStockReserveForgedConfirmation(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, reserveYAML(1, "10m"))
	accept(t, c, "o1")
	tries := []struct{ name, order, outcome, sig, wantErr string }{
		{"no signature", "o1", "cancelled", "", "bad_signature"},
		{"signed by another key", "o1", "cancelled", HoldSignature([]byte(strings.Repeat("x", 32)), "cancelled", "o1"), "bad_signature"},
		{"signature of another order", "o1", "cancelled", signed("cancelled", "o9"), "bad_signature"},
		{"paid signature used to cancel", "o1", "cancelled", signed("paid", "o1"), "bad_signature"},
		{"unknown outcome", "o1", "refunded", signed("refunded", "o1"), "bad_outcome"},
	}
	for _, tr := range tries {
		if code, body := confirm(env, tr.order, tr.outcome, tr.sig); code != 403 || !strings.Contains(body, tr.wantErr) {
			t.Errorf("%s: %d %s, want 403 %s", tr.name, code, body, tr.wantErr)
		}
	}
	if a := lookup(t, env, "o1"); a.State != "held" {
		t.Fatalf("a forged confirmation changed the hold: %+v", a)
	}
	if code, _ := confirm(env, "o1", "paid", signed("paid", "o1")); code != 200 {
		t.Fatalf("genuine confirmation refused: %d", code)
	}
	// Replays of the used confirmation, or a cancel after pay, find nothing.
	for _, out := range []string{"paid", "cancelled"} {
		if code, body := confirm(env, "o1", out, signed(out, "o1")); code != 409 || !strings.Contains(body, "not_held") {
			t.Errorf("replayed %s: %d %s, want 409 not_held", out, code, body)
		}
	}
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("after replays: %s, want stock_busy (the paid unit stays sold)", reason(v))
	}
}

// TestStockReserveExpires runs on synctest's fake clock: a hold's units
// come back when its window ends, not a moment before.
func TestStockReserveExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := testEnv(t)
		env.Now = func() int64 { return time.Now().UnixNano() }
		now := func() reqOpt { return at(time.Now().UnixNano()) }
		c := mustCompile(t, env, reserveYAML(1, "2m"))
		accept(t, c, "o1", now())
		time.Sleep(2*time.Minute - time.Second)
		if v, _ := verdictOf(c, "/buy/1", now()); reason(v) != "stock_busy" {
			t.Fatalf("1s before the window ends: %s, want stock_busy", reason(v))
		}
		if a := lookup(t, env, "o1", now()); a.State != "held" || a.ExpiresInMS != 1000 {
			t.Fatalf("lookup 1s before the end: %+v", a)
		}
		time.Sleep(time.Second)
		accept(t, c, "o2", now())
		if code, _ := confirm(env, "o1", "paid", signed("paid", "o1"), now()); code != 409 {
			t.Fatalf("paying an expired hold: %d, want 409 (its unit went to o2)", code)
		}
	})
}

// TestStockReserveSurvivesReload: holds belong to the gate's state, so an
// unrelated edit (a filter in front, another window) keeps them and their
// confirmations.
func TestStockReserveSurvivesReload(t *testing.T) {
	env := testEnv(t)
	accept(t, mustCompile(t, env, reserveYAML(1, "10m")), "o1")
	c := mustCompile(t, env, "- window: {end: 2027-01-01T00:00:00Z}\n"+reserveYAML(1, "20m"))
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("after reload: %s, want stock_busy (o1 still holds the unit)", reason(v))
	}
	if code, _ := confirm(env, "o1", "cancelled", signed("cancelled", "o1")); code != 200 {
		t.Fatalf("confirming a hold made before the reload: %d", code)
	}
	accept(t, c, "o2")
}

func TestStockReserveRejectsAnswersWithoutOrder(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, reserveYAML(1, "10m"))
	for _, resp := range []struct {
		status int
		order  string
	}{{200, ""}, {200, "bad order id"}, {200, strings.Repeat("x", 65)}, {402, "o1"}} {
		v, r := verdictOf(c, "/buy/1")
		if v.Rejected() {
			t.Fatalf("%+v: unit not given back by the previous answer: %s", resp, reason(v))
		}
		hdr := []string{}
		if resp.order != "" {
			hdr = []string{"X-Order-Id", resp.order}
		}
		c.Observe(r, respond(resp.status, "", hdr...))
	}
}

func TestStockReserveConfigErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"- stock: {stock: {\"1\": 1}, mode: reserve, sold_out: {status: 409}}\n", "give reserve: with mode reserve"},
		{"- stock: {stock: {\"1\": 1}, sold_out: {status: 409}, reserve: {secret: \"" + holdSecret32 + "\"}}\n", "give reserve: with mode reserve"},
		{"- stock: {stock: {\"1\": 1}, mode: reserve, overbook: 1.5, sold_out: {status: 409}, reserve: {secret: \"" + holdSecret32 + "\"}}\n", "overbook must be 1"},
		{"- stock: {stock: {\"1\": 1}, mode: reserve, sold_out: {status: 409}, reserve: {}}\n", "secret or secret_env"},
		{"- stock: {stock: {\"1\": 1}, mode: reserve, sold_out: {status: 409}, reserve: {secret: short}}\n", "need at least 32"},
		{"- stock: {stock: {\"1\": 1}, mode: reserve, sold_out: {status: 409}, reserve: {secret_env: FG_TEST_NO_SUCH_VAR}}\n", "FG_TEST_NO_SUCH_VAR is not set"},
		{"- stock: {stock: {\"1\": 1}, mode: hold, sold_out: {status: 409}}\n", "known: total, in_flight, reserve"},
	}
	for _, tt := range tests {
		_, err := compileErr(t, testEnv(t), tt.yaml, "", nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "gateway.yaml:") {
			t.Errorf("%s: error %v, want one with file:line naming %q", tt.yaml, err, tt.want)
		}
	}
}
