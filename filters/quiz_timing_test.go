package filters

import (
	"syscall"
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
// path: token verify, identity, and the spend-once store call. To reuse one
// pass (a fresh token per op would measure cache misses of the benchmark's
// own token table) each op also un-spends it with a store Forget (~40 ns).
func BenchmarkQuizCheckPass(b *testing.B) {
	f := mustQuiz(b, testEnv(b), "- quiz: {}\n")
	pass := quizPasses(b, f, 1)[0]
	var c token.Claims
	if err := f.keys.Verify(&c, pass, t0); err != nil {
		b.Fatal(err)
	}
	spent := Mix(f.prefix, c.NonceKey())
	r := newReq("/buy/42")
	r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), pass)
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		r.nids = 0
		if f.Check(r).Rejected() {
			b.Fatal("rejected")
		}
		f.store.Forget(spent)
	}
	reportProcessCPU(b, cpu)
}

func BenchmarkQuizCheckRejectReplay(b *testing.B) {
	f := mustQuiz(b, testEnv(b), "- quiz: {}\n")
	pass := quizPasses(b, f, 1)[0]
	r := newReq("/buy/42")
	r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), pass)
	f.Check(r)
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		r.nids = 0
		if !f.Check(r).Rejected() {
			b.Fatal("replay admitted")
		}
	}
	reportProcessCPU(b, cpu)
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

// processCPU returns the process's CPU time; benchmarks report
// "cpu-ns/op" from it because wall-clock ns/op on a shared machine counts
// the time other processes held the core.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func reportProcessCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
