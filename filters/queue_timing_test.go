package filters

import (
	"testing"

	"flashgate/token"
)

// queuePass signs a pass of f for the test client of newReq.
func queuePass(tb testing.TB, f *queue) []byte {
	r := newReq("/buy/42")
	subject, _ := r.Key(f.id)
	c := token.Claims{Kind: token.KindQueuePass, Scope: f.prefix, Subject: subject, IssuedAt: t0, ExpiresAt: t0 + 600*sec}
	c.RandomNonce()
	return testKeyring(tb).Sign(nil, &c)
}

// BenchmarkQueueCheckPass: a client with its pass (verify + revocation lookup).
func BenchmarkQueueCheckPass(b *testing.B) {
	f := mustQueue(b, testEnv(b), "- queue: {max_active: 1}\n")
	r := newReq("/buy/42")
	r.Ctx.Request.Header.SetCookieBytesKV([]byte(queuePassCookie), queuePass(b, f))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		r.nids = 0
		if f.Check(r).Rejected() {
			b.Fatal("rejected")
		}
	}
	reportProcessCPU(b, cpu)
}

// BenchmarkQueueCheckWaiting: a client refreshing the waiting page with
// its ticket (ticket verify, a look at the line, the prebuilt rejection).
func BenchmarkQueueCheckWaiting(b *testing.B) {
	f := mustQueue(b, testEnv(b), "- queue: {max_active: 1}\n")
	newClient(1).visit(f, t0)
	c := newClient(2)
	c.visit(f, t0)
	r := newReq("/buy/42", withIP(c.ip), withCookie(queueTicketCookie, c.cookies[queueTicketCookie]))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		r.nids = 0
		if v := f.Check(r); v.Value() != 1 {
			b.Fatalf("position %d", v.Value())
		}
	}
	reportProcessCPU(b, cpu)
}

// BenchmarkQueueRequireReject: a POST to the buy route without the line's
// pass (the bot's path): one cookie lookup and the prebuilt 403.
func BenchmarkQueueRequireReject(b *testing.B) {
	s := mustSale(b, testEnv(b), saleRules)
	f := s.chains["buy"].filters[1].(*queue)
	r := newReq("/buy/7")
	b.ReportAllocs()
	for b.Loop() {
		r.nids = 0
		if !f.Check(r).Rejected() {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkQueueRequirePass: a POST with the line's pass (verify +
// revocation lookup).
func BenchmarkQueueRequirePass(b *testing.B) {
	s := mustSale(b, testEnv(b), saleRules)
	f := s.chains["buy"].filters[1].(*queue)
	r := newReq("/buy/7")
	r.Ctx.Request.Header.SetCookieBytesKV([]byte(queuePassCookie), queuePass(b, f))
	b.ReportAllocs()
	for b.Loop() {
		r.nids = 0
		if f.Check(r).Rejected() {
			b.Fatal("rejected")
		}
	}
}
