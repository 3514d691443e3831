package filters

import (
	"testing"

	"flashgate/token"
)

// quizPasses signs n distinct passes for the test client of newReq.
func quizPasses(tb testing.TB, f *quiz, n int) [][]byte {
	kr := testKeyring(tb)
	r := newReq("/buy/42")
	subject, _ := r.Key(f.id)
	out := make([][]byte, n)
	for i := range out {
		c := token.Claims{Kind: token.KindQuizPass, Scope: f.prefix, Subject: subject, IssuedAt: t0, ExpiresAt: t0 + 600*sec}
		c.RandomNonce()
		out[i] = kr.Sign(nil, &c)
	}
	return out
}

// BenchmarkQuizCheckPass measures the whole local decision on the pass
// path: token verify, identity, and the spend-once store call.
func BenchmarkQuizCheckPass(b *testing.B) {
	f := mustQuiz(b, testEnv(b), "- quiz: {}\n")
	passes := quizPasses(b, f, b.N)
	r := newReq("/buy/42")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.nids = 0
		r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), passes[i])
		if f.Check(r).Rejected() {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkQuizCheckRejectReplay(b *testing.B) {
	f := mustQuiz(b, testEnv(b), "- quiz: {}\n")
	pass := quizPasses(b, f, 1)[0]
	r := newReq("/buy/42")
	r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), pass)
	f.Check(r)
	b.ReportAllocs()
	for b.Loop() {
		r.nids = 0
		if !f.Check(r).Rejected() {
			b.Fatal("replay admitted")
		}
	}
}

func BenchmarkQuizCheckRejectMissing(b *testing.B) {
	f := mustQuiz(b, testEnv(b), "- quiz: {}\n")
	r := newReq("/buy/42")
	b.ReportAllocs()
	for b.Loop() {
		if !f.Check(r).Rejected() {
			b.Fatal("admitted")
		}
	}
}
