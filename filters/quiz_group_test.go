package filters

import (
	"strings"
	"testing"
)

// saleQuiz returns the buy route's quiz of a compiled saleRules.
func (s *compiledSale) saleQuiz() *quiz { return s.chains["buy"].filters[0].(*quiz) }

// TestQuizGroupPassSpentOnBuy: the pass is earned on the group's page,
// before the buy, sending the browser back to the item page (a POST
// cannot be returned to); the buy POST spends it once.
func TestQuizGroupPassSpentOnBuy(t *testing.T) {
	env := testEnv(t)
	s := mustSale(t, env, saleRules)
	q := s.saleQuiz()
	if q.page != "/_flashgate/quiz/sale" || s.pages[q.page] == nil {
		t.Fatalf("quiz page %q (pages %v), want /_flashgate/quiz/sale", q.page, keys(s.pages))
	}
	buyer := newClient(1)
	buyer.send(s.chains["item"], "/item/7", t0) // first in line: the queue pass

	v, r := buyer.send(s.chains["buy"], "/buy/7", t0+sec)
	body := string(r.Ctx.Response.Body())
	if reason(v) != "quiz_required" || !strings.Contains(body, `href="/_flashgate/quiz/sale?return=%2Fitem%2F7"`) {
		t.Fatalf("buy without a quiz pass: %s\n%s\nwant quiz_required linking the quiz with return=/item/7", reason(v), body)
	}

	// The HTML flow: question, answer, 303 back to the item page.
	get := callPage(s.pages[q.page], "GET", "/_flashgate/quiz/sale?return=%2Fitem%2F7", "", withIP(buyer.ip), at(t0+2*sec))
	page := string(get.Response.Body())
	form := "challenge=" + between(page, `name="challenge" value="`, `"`) +
		"&answer=" + solveArithmetic(t, htmlUnescape(between(page, `<label for="fg-answer">`, `</label>`))) +
		"&return=" + between(page, `name="return" value="`, `"`)
	post := callPage(s.pages[q.page], "POST", q.page, form, withIP(buyer.ip), at(t0+4*sec))
	if post.Response.StatusCode() != 303 || string(post.Response.Header.Peek("Location")) != "/item/7" {
		t.Fatalf("answer: %d Location %q, want 303 to /item/7", post.Response.StatusCode(), post.Response.Header.Peek("Location"))
	}
	buyer.keep(&post.Response)

	if v, _ := buyer.send(s.chains["buy"], "/buy/7", t0+5*sec); reason(v) != "pass" {
		t.Fatalf("buy with both passes: %s", reason(v))
	}
	if v, _ := buyer.send(s.chains["buy"], "/buy/7", t0+6*sec); reason(v) != "quiz_used" {
		t.Fatalf("replayed quiz pass: %s, want quiz_used", reason(v))
	}
}

// TestQuizPassGivenBackWhenQueueRefuses: a buyer without the line's pass
// is refused by the queue after the quiz; its quiz pass is not burnt, and
// works once, when the buyer comes back with the line's pass.
func TestQuizPassGivenBackWhenQueueRefuses(t *testing.T) {
	env := testEnv(t)
	s := mustSale(t, env, saleRules)
	first, buyer := newClient(1), newClient(2)
	first.send(s.chains["item"], "/item/7", t0) // takes the only session
	buyer.cookies[quizCookie] = earnPass(t, s.saleQuiz(), t0, withIP(buyer.ip))
	for i := range 3 {
		if v, _ := buyer.send(s.chains["buy"], "/buy/7", t0+int64(5+i)*sec); reason(v) != "queue_required" {
			t.Fatalf("buy %d with a quiz pass, without the line's: %s, want queue_required", i, reason(v))
		}
	}
	thief := newClient(3)
	thief.cookies[quizCookie] = buyer.cookies[quizCookie]
	if v, _ := thief.send(s.chains["buy"], "/buy/7", t0+8*sec); reason(v) != "quiz_invalid" {
		t.Fatalf("quiz pass copied to another client: %s, want quiz_invalid", reason(v))
	}
	// The first buyer's purchase frees the session for the next in line.
	_, r := first.send(s.chains["buy"], "/buy/7", t0+9*sec, withCookie(quizCookie, earnPass(t, s.saleQuiz(), t0, withIP(first.ip))))
	s.chains["buy"].Observe(r, respond(200, "bought"))
	if v, _ := buyer.send(s.chains["item"], "/item/7", t0+10*sec); reason(v) != "pass" {
		t.Fatalf("buyer on the item page after the slot was freed: %s", reason(v))
	}
	if v, _ := buyer.send(s.chains["buy"], "/buy/7", t0+11*sec); reason(v) != "pass" {
		t.Fatalf("buy with the kept quiz pass and the line's pass: %s", reason(v))
	}
	if v, _ := buyer.send(s.chains["buy"], "/buy/7", t0+12*sec); reason(v) != "quiz_used" {
		t.Fatalf("the same quiz pass again: %s, want quiz_used", reason(v))
	}
}

// TestQuizGroupSharedScope: routes of one quiz group accept each other's
// passes (one page, one scope); another group's pass is refused.
func TestQuizGroupSharedScope(t *testing.T) {
	env := testEnv(t)
	route := func(name, group string) string {
		return "  - name: " + name + "\n    path: /" + name + "/{id}\n    origin: shop\n    filters:\n      - quiz: {group: " + group + ", return: /item/7}\n"
	}
	s := mustSale(t, env, route("web", "g")+route("app", "g")+route("other", "h"))
	if s.pages["/_flashgate/quiz/g"] == nil || s.pages["/_flashgate/quiz/h"] == nil || len(s.pages) != 2 {
		t.Fatalf("pages %v, want /_flashgate/quiz/g and /_flashgate/quiz/h", keys(s.pages))
	}
	web := s.chains["web"].filters[0].(*quiz)
	c := newClient(1)
	c.cookies[quizCookie] = earnPass(t, web, t0, withIP(c.ip))
	if v, _ := c.send(s.chains["other"], "/other/7", t0+5*sec); reason(v) != "quiz_invalid" {
		t.Fatalf("pass of group g on group h: %s, want quiz_invalid", reason(v))
	}
	if v, _ := c.send(s.chains["app"], "/app/7", t0+5*sec); reason(v) != "pass" {
		t.Fatalf("pass earned for the group on its other route: %s", reason(v))
	}
}

func TestQuizGroupCompileErrors(t *testing.T) {
	route := func(name, spec string) string {
		return "  - name: " + name + "\n    path: /" + name + "/{id}\n    origin: shop\n    filters:\n      - quiz: " + spec + "\n"
	}
	tests := []struct {
		name, routes, want string
	}{
		{"return elsewhere", route("buy", "{return: 'https://evil.example/'}"), "is not a path on this site"},
		{"return with path scope", route("buy", "{return: /item/7, scope: path}"), "use scope: route"},
		{"bad group", route("buy", "{group: 'a b'}"), `group "a b": use 1..64 letters`},
		{"members disagree", route("item", "{group: g, min_solve: 1s}") + route("buy", "{group: g, min_solve: 3s}"),
			`must share its settings, but these differ from route "item"'s`},
		{"group page taken by a route", route("g", "{}") + route("buy", "{group: g}"), "registered twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileRoutes(t, testEnv(t), tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
