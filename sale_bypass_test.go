package flashgate_test

import "testing"

// TestSaleNumericSpellings: the shop reads /buy/007 as item 7 (leading
// zeros, as strconv.Atoi does), so every decimal spelling of item 7 must
// meet the sale's waiting room, quiz and limits, never the general
// /buy/{id} route; and the sale's item-keyed filters must see item "7"
// however it was spelt. Before fixed values and decimal matching in
// package route, the literal "/buy/7" let POST /buy/007 through to the
// shop with no queue pass and no quiz.
func TestSaleNumericSpellings(t *testing.T) {
	g := startSale(t, waitInLineEdits...)
	spellings := []string{"/buy/007", "/buy/0007", "/buy/07/"}

	bot := g.shopper("198.51.100.66", "bot")
	for _, path := range spellings {
		if st, r := bot.buyAt(t, path); st != 403 || r.Error != "quiz_required" || r.Filter != "quiz" {
			t.Errorf("POST %s with nothing: %d %+v, want 403 quiz_required as for /buy/7", path, st, r)
		}
	}
	b := g.shopper("198.51.100.2", "bob")
	b.earnQuizPass(t) // given back by each queue refusal, so it lasts the loop
	for _, path := range spellings {
		if st, r := b.buyAt(t, path); st != 403 || r.Error != "queue_required" || r.WaitURL != "/item/7" {
			t.Errorf("POST %s with a quiz pass, no queue pass: %d %+v, want 403 queue_required naming /item/7", path, st, r)
		}
	}
	if n := g.buys.Load(); n != 0 {
		t.Fatalf("%d purchases of item 7 spelt with leading zeros reached the shop without waiting or a quiz", n)
	}

	// The waiting room is on every spelling of the item page too.
	d := g.shopper("198.51.100.4", "dana")
	if resp, _ := d.do(t, "GET", "/item/007", nil); resp.StatusCode != 200 || d.cookies["fg_queue_pass"] == "" {
		t.Fatalf("first on /item/007: %d, cookies %v; want the page and a queue pass", resp.StatusCode, d.cookies)
	}
	w := g.shopper("198.51.100.9", "walt")
	if resp, _ := w.do(t, "GET", "/item/0007", nil); resp.StatusCode != 503 || resp.Header.Get("X-Flashgate-Filter") != "queue" {
		t.Fatalf("second on /item/0007 while the only session is taken: %d (filter %q), want 503 from the queue",
			resp.StatusCode, resp.Header.Get("X-Flashgate-Filter"))
	}

	// Admitted and quizzed, a spelling with zeros buys item 7 ...
	d.earnQuizPass(t)
	if st, r := d.buyAt(t, "/buy/007"); st != 200 {
		t.Fatalf("POST /buy/007 with both passes: %d %+v, want the shop's 200", st, r)
	}
	// ... and counts as item 7 for the per-item purchase limit: once the
	// waiter ahead has had their turn, dana is back in with both passes
	// and buying again as /buy/7 is refused at the edge.
	if resp, _ := w.do(t, "GET", "/item/0007", nil); resp.StatusCode != 200 {
		t.Fatalf("the waiter after the purchase ended the session: %d, want let in", resp.StatusCode)
	}
	w.earnQuizPass(t)
	if st, r := w.buy(t); st != 200 {
		t.Fatalf("the waiter buys: %d %+v", st, r)
	}
	if resp, _ := d.do(t, "GET", "/item/7", nil); resp.StatusCode != 200 {
		t.Fatalf("dana back on /item/7 with the session free: %d", resp.StatusCode)
	}
	d.earnQuizPass(t)
	if st, r := d.buy(t); st != 403 || r.Error != "purchase_limit" {
		t.Errorf("dana buying item 7 again as /buy/7: %d %+v, want 403 purchase_limit", st, r)
	}
	if n, s := g.buys.Load(), g.sold.Load(); n != 2 || s != 2 {
		t.Fatalf("the shop saw %d purchases (%d sold), want the 2 admitted ones", n, s)
	}
}
