//go:build !race

package filters

import "testing"

func TestQuizCheckAllocs(t *testing.T) {
	f := mustQuiz(t, testEnv(t), "- quiz: {}\n")
	g := mustQuiz(t, testEnv(t), "- quiz: {scope: path}\n")
	passes := quizPasses(t, f, 1100)
	r := newReq("/buy/42")
	i := 0
	cases := map[string]func(){
		"pass": func() {
			r.nids = 0
			r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), passes[i])
			i++
			if f.Check(r).Rejected() {
				t.Fatal("rejected")
			}
		},
		"reject replay": func() {
			r.nids = 0
			r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), passes[0])
			f.Check(r)
		},
		"reject missing": func() { r.Ctx.Request.Header.DelAllCookies(); f.Check(r) },
		"reject per path": func() {
			r.nids = 0
			r.Ctx.Request.Header.SetCookieBytesKV([]byte(quizCookie), passes[1])
			g.Check(r)
		},
	}
	for _, name := range []string{"pass", "reject replay", "reject missing", "reject per path"} {
		if n := testing.AllocsPerRun(1000, cases[name]); n > 0 {
			t.Fatalf("Check %s: %.2f allocs/op, want 0", name, n)
		}
	}
}
