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
