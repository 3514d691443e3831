package filters

import "testing"

// lookaheadRules: a buy route that asks a question, then limits each user
// to one purchase of item 7, of which there is one unit.
const lookaheadRules = `
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - quiz: {group: sale, min_solve: 1s}
      - purchase_limit: {max: 1, key: "cookie:uid"}
      - stock: {stock: {"7": 1, "8": 5}, sold_out: {status: 409}}
`

// TestFinalAnswersFirst: a buyer who has bought their one unit, and anyone
// asking for an item whose stock is gone, is told so at once, before the
// question; nobody else is spared the question.
func TestFinalAnswersFirst(t *testing.T) {
	env := testEnv(t)
	s := mustSale(t, env, lookaheadRules)
	buy := s.chains["buy"]
	q := buy.filters[0].(*quiz)
	alice, bob := newClient(1), newClient(2)
	alice.cookies["uid"], bob.cookies["uid"] = "alice", "bob"

	if v, _ := alice.send(buy, "/buy/7", t0); reason(v) != "quiz_required" {
		t.Fatalf("first attempt: %s, want quiz_required", reason(v))
	}
	alice.cookies[quizCookie] = earnPass(t, q, t0, withIP(alice.ip))
	v, r := alice.send(buy, "/buy/7", t0+10*sec)
	if reason(v) != "pass" {
		t.Fatalf("with a pass: %s", reason(v))
	}
	buy.Observe(r, respond(200, "bought"))

	for _, tt := range []struct {
		name   string
		c      *client
		path   string
		want   string
		status int
	}{
		{"repeat buyer, before the question", alice, "/buy/8", "pass", 0}, // the limit is per item
		{"repeat buyer of item 7", alice, "/buy/7", "purchase_limit", 403},
		{"another buyer, item 7 (every unit let through)", bob, "/buy/7", "stock_exhausted", 410},
		{"another buyer, item 8", bob, "/buy/8", "quiz_required", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			delete(tt.c.cookies, quizCookie)
			v, r := tt.c.send(buy, tt.path, t0+20*sec)
			if tt.want == "pass" {
				if reason(v) != "quiz_required" {
					t.Fatalf("%s: %s, want quiz_required (nothing final to say)", tt.path, reason(v))
				}
				return
			}
			if reason(v) != tt.want || r.Ctx.Response.StatusCode() != tt.status {
				t.Fatalf("%s: %s %d, want %s %d", tt.path, reason(v), r.Ctx.Response.StatusCode(), tt.want, tt.status)
			}
		})
	}
	if n := env.Metrics.GetOrCreateCounter(`flashgate_filter_rejections_total{route="buy",filter="purchase_limit",reason="purchase_limit"}`).Get(); n != 1 {
		t.Errorf("purchase_limit counted %d times, want 1 (the final answer is what is counted)", n)
	}
}

// TestSoldOutBeforeTheLine: once the shop said sold out, the waiting room
// does not hand out places for the item.
func TestSoldOutBeforeTheLine(t *testing.T) {
	env := testEnv(t)
	s := mustSale(t, env, `
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - queue: {admit_rate: 1/m}
      - stock: {sold_out: {status: 409}}
`)
	buy := s.chains["buy"]
	first, second := newClient(1), newClient(2)
	_, r := first.send(buy, "/buy/3", t0) // admitted at once
	buy.Observe(r, respond(409, "sold out"))
	if v, _ := second.send(buy, "/buy/3", t0+sec); reason(v) != "sold_out" {
		t.Fatalf("after the sell-out: %s, want sold_out instead of a place in line", reason(v))
	}
	if v, _ := second.send(buy, "/buy/4", t0+sec); reason(v) != "queued" {
		t.Fatalf("another item: %s, want queued", reason(v))
	}
}
