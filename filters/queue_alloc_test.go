//go:build !race

package filters

import "testing"

func TestQueueCheckAllocs(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1}\n")
	newClient(1).visit(f, t0)
	c := newClient(2)
	c.visit(f, t0)
	pass := newReq("/buy/42")
	pass.Ctx.Request.Header.SetCookieBytesKV([]byte(queuePassCookie), queuePass(t, f))
	wait := newReq("/buy/42", withIP(c.ip), withCookie(queueTicketCookie, c.cookies[queueTicketCookie]))
	forged := newReq("/buy/42", withIP(c.ip), withCookie(queueTicketCookie, c.cookies[queueTicketCookie]),
		withCookie(queuePassCookie, "AAAA"))
	for name, r := range map[string]*Request{"pass": pass, "waiting": wait, "forged pass": forged} {
		if n := testing.AllocsPerRun(1000, func() { r.nids = 0; f.Check(r) }); n > 0 {
			t.Fatalf("Check %s: %.2f allocs/op, want 0", name, n)
		}
	}
}

// TestQueueRequireAllocs: the buy route's check, with and without the
// line's pass (reserving one of the session's purchases and giving it
// back), and the quiz pass given back when it refuses: 0 allocs.
func TestQueueRequireAllocs(t *testing.T) {
	s := mustSale(t, testEnv(t), saleRules)
	buy := s.chains["buy"]
	req := buy.filters[1].(*queue)
	withPass := newReq("/buy/7")
	withPass.Ctx.Request.Header.SetCookieBytesKV([]byte(queuePassCookie), queuePass(t, req))
	without := newReq("/buy/7", withCookie(quizCookie, string(quizPasses(t, s.saleQuiz(), 1)[0])))
	cases := []struct {
		name string
		r    *Request
		f    func(r *Request) Verdict
		want *Rejection // nil: pass
	}{
		{"require pass, reservation given back", withPass, func(r *Request) Verdict { v := req.Check(r); req.Cancel(r); return v }, nil},
		{"require reject", without, req.Check, req.required},
		{"chain: quiz spent then given back", without, buy.Check, req.required},
	}
	for _, c := range cases {
		n := testing.AllocsPerRun(1000, func() {
			c.r.nids, c.r.held = 0, 0
			if got := c.f(c.r).Rejection(); got != c.want {
				t.Fatalf("%s: %s, want %v", c.name, reason(c.f(c.r)), c.want)
			}
		})
		if n > 0 {
			t.Fatalf("%s: %.2f allocs/op, want 0", c.name, n)
		}
	}
}
