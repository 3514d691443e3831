package filters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/token"
)

const sec = int64(time.Second)

// testKeyring is the gateway keyring the quiz and queue tests sign with.
func testKeyring(t testing.TB) *token.Keyring {
	t.Helper()
	kr, err := token.NewKeyring([]token.Key{{ID: 1, Secret: bytes.Repeat([]byte("k"), 32)}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// buildOne compiles the single filter in filtersYAML on route "buy" with
// the test keyring, without the kind registry, and commits the compile.
func buildOne(t testing.TB, env *Env, filtersYAML string, extra map[string]string) (Filter, error) {
	t.Helper()
	cfg := loadConfig(t, filtersYAML, "", extra)
	if err := env.Begin(cfg.Admission, testKeyring(t)); err != nil {
		t.Fatal(err)
	}
	name, spec, err := cfg.Routes[0].Filters[0].Kind()
	if err != nil {
		t.Fatal(err)
	}
	ctor := map[string]Constructor{"quiz": newQuiz, "queue": newQueue}[name]
	b := &Build{Route: "buy", Kind: name, Node: spec, Env: env, holds: new(uint8)}
	f, err := ctor(b)
	if err = b.allErrors(err); err == nil {
		env.Commit()
	}
	return f, err
}

func mustQuiz(t testing.TB, env *Env, yaml string) *quiz {
	t.Helper()
	f, err := buildOne(t, env, yaml, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return f.(*quiz)
}

// callPage runs a gateway page handler for a request shaped like newReq's.
func callPage(h fasthttp.RequestHandler, method, uri, form string, opts ...reqOpt) *fasthttp.RequestCtx {
	r := newReq(uri, opts...)
	r.Ctx.Request.Header.SetMethod(method)
	if form != "" {
		r.Ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
		r.Ctx.Request.SetBodyString(form)
	}
	r.Ctx.SetUserValue(PageRequestKey, r)
	h(r.Ctx)
	return r.Ctx
}

type challengeJSON struct {
	Mode, Question, Challenge, Error string
	Difficulty                       int
	AnswerURL                        string `json:"answer_url"`
	MinSolveMS                       int64  `json:"min_solve_ms"`
	Pass                             string
}

func decodeJSON(t testing.TB, ctx *fasthttp.RequestCtx) challengeJSON {
	t.Helper()
	var c challengeJSON
	if err := json.Unmarshal(ctx.Response.Body(), &c); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, ctx.Response.Body())
	}
	return c
}

// solveArithmetic answers "What is a op b?".
func solveArithmetic(t testing.TB, q string) string {
	t.Helper()
	var a, b int
	var op string
	if _, err := fmt.Sscanf(q, "What is %d %s %d?", &a, &op, &b); err != nil {
		t.Fatalf("question %q: %v", q, err)
	}
	switch op {
	case "+":
		return strconv.Itoa(a + b)
	case "−":
		return strconv.Itoa(a - b)
	case "×":
		return strconv.Itoa(a * b)
	}
	t.Fatalf("question %q: unknown operator", q)
	return ""
}

var jsonAccept = withHeader("Accept", "application/vnd.shop+json, */*")

// earnPass runs the JSON flow: challenge at t, answer at t+3s, returns the pass.
func earnPass(t testing.TB, f *quiz, now int64, opts ...reqOpt) string {
	t.Helper()
	page := f.servePage(f.env(t))
	get := callPage(page, "GET", f.page+"?return=/buy/42", "", append(opts, jsonAccept, at(now))...)
	ch := decodeJSON(t, get)
	if get.Response.StatusCode() != 200 || ch.Challenge == "" {
		t.Fatalf("challenge: %d %s", get.Response.StatusCode(), get.Response.Body())
	}
	form := "challenge=" + ch.Challenge + "&answer=" + solveArithmetic(t, ch.Question) + "&return=/buy/42"
	post := callPage(page, "POST", f.page, form, append(opts, jsonAccept, at(now+3*sec))...)
	res := decodeJSON(t, post)
	if post.Response.StatusCode() != 200 || res.Pass == "" {
		t.Fatalf("answer: %d %s", post.Response.StatusCode(), post.Response.Body())
	}
	return res.Pass
}

// env returns the Env a test quiz was built in (its store is f.store).
func (f *quiz) env(t testing.TB) *Env {
	t.Helper()
	return &Env{Store: f.store, Now: func() int64 { return t0 }}
}

func TestQuizPassOnce(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {}\n")
	pass := earnPass(t, f, t0)
	if v := f.Check(newReq("/buy/42", withCookie(quizCookie, pass), at(t0+4*sec))); reason(v) != "pass" {
		t.Fatalf("first use of the pass: %s", reason(v))
	}
	if v := f.Check(newReq("/buy/42", withCookie(quizCookie, pass), at(t0+5*sec))); reason(v) != "quiz_used" {
		t.Fatalf("second use of the pass: %s, want quiz_used", reason(v))
	}
}

func TestQuizCheckRejects(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {pass_ttl: 1m}\n")
	kr := testKeyring(t)
	fresh := func() string { return earnPass(t, f, t0) }
	flip := func(s string) string {
		b := []byte(s)
		b[40] = map[bool]byte{true: 'B', false: 'A'}[b[40] == 'A']
		return string(b)
	}
	other := netip.MustParseAddr("198.51.100.9")
	subject := f.id.ipKey(netip.MustParseAddr("192.0.2.1"))
	signed := func(c token.Claims) string {
		c.RandomNonce()
		return string(kr.Sign(nil, &c))
	}
	tests := []struct {
		name string
		pass string
		opts []reqOpt
		want string
	}{
		{"no pass", "", nil, "quiz_required"},
		{"forged", strings.Repeat("A", token.EncodedLen), nil, "quiz_invalid"},
		{"tampered", flip(fresh()), nil, "quiz_invalid"},
		{"truncated", fresh()[:100], nil, "quiz_invalid"},
		{"oversized", fresh() + "AAAA", nil, "quiz_invalid"},
		{"borrowed by another client", fresh(), []reqOpt{func(r *Request) { r.ClientIP = other }}, "quiz_invalid"},
		{"expired", fresh(), []reqOpt{at(t0 + 3*sec + 60*sec + 5*sec)}, "quiz_expired"},
		{"expiry within clock leeway", fresh(), []reqOpt{at(t0 + 3*sec + 60*sec + 4*sec)}, "pass"},
		{"issued by a clock 4s ahead", signed(token.Claims{Kind: token.KindQuizPass, Scope: f.prefix, Subject: subject,
			IssuedAt: t0 + 4*sec, ExpiresAt: t0 + 60*sec}), nil, "pass"},
		{"issued by a clock 10s ahead", signed(token.Claims{Kind: token.KindQuizPass, Scope: f.prefix, Subject: subject,
			IssuedAt: t0 + 10*sec, ExpiresAt: t0 + 60*sec}), nil, "quiz_invalid"},
		{"a challenge is not a pass", signed(token.Claims{Kind: token.KindQuizChallenge, Scope: f.prefix, Subject: subject,
			IssuedAt: t0, ExpiresAt: t0 + 60*sec}), nil, "quiz_invalid"},
		{"a queue pass is not a quiz pass", signed(token.Claims{Kind: token.KindQueuePass, Scope: f.prefix, Subject: subject,
			IssuedAt: t0, ExpiresAt: t0 + 60*sec}), nil, "quiz_invalid"},
		{"pass of another route", signed(token.Claims{Kind: token.KindQuizPass, Scope: f.prefix + 1, Subject: subject,
			IssuedAt: t0, ExpiresAt: t0 + 60*sec}), nil, "quiz_invalid"},
		{"header instead of cookie", "header:" + fresh(), nil, "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]reqOpt{at(t0 + 4*sec)}, tt.opts...)
			switch {
			case strings.HasPrefix(tt.pass, "header:"):
				opts = append(opts, withHeader(quizHeader, strings.TrimPrefix(tt.pass, "header:")))
			case tt.pass != "":
				opts = append(opts, withCookie(quizCookie, tt.pass))
			}
			v, r := verdictOf(&Chain{filters: []Filter{f}}, "/buy/42", opts...)
			if got := reason(v); got != tt.want {
				t.Fatalf("verdict %s, want %s", got, tt.want)
			}
			if tt.want != "pass" {
				if code := r.Ctx.Response.StatusCode(); code != 403 {
					t.Fatalf("status %d, want 403", code)
				}
				if !bytes.Contains(r.Ctx.Response.Body(), []byte(`href="/_flashgate/quiz/buy"`)) {
					t.Fatalf("rejection page does not link to the quiz:\n%s", r.Ctx.Response.Body())
				}
			}
		})
	}
}

func TestQuizRejectionJSON(t *testing.T) {
	f := mustQuiz(t, testEnv(t), "- quiz: {}\n")
	v, r := verdictOf(&Chain{filters: []Filter{f}}, "/buy/42", jsonAccept)
	if reason(v) != "quiz_required" || r.Ctx.Response.StatusCode() != 403 {
		t.Fatalf("verdict %s, status %d", reason(v), r.Ctx.Response.StatusCode())
	}
	var body map[string]any
	if err := json.Unmarshal(r.Ctx.Response.Body(), &body); err != nil {
		t.Fatalf("API client got a non-JSON rejection: %v\n%s", err, r.Ctx.Response.Body())
	}
	if body["error"] != "quiz_required" || body["quiz_url"] != "/_flashgate/quiz/buy" {
		t.Fatalf("JSON rejection %v", body)
	}
}

func TestQuizAnswers(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {min_solve: 2s, challenge_ttl: 1m, max_attempts: 100}\n")
	page := f.servePage(env)
	challenge := func(opts ...reqOpt) challengeJSON {
		return decodeJSON(t, callPage(page, "GET", f.page, "", append(opts, jsonAccept, at(t0))...))
	}
	stranger := withIP("198.51.100.9")
	tests := []struct {
		name    string
		answer  func(c challengeJSON) string // form body
		at      int64
		status  int
		problem string // substring of the message; "" means a pass
	}{
		{"right after 3s", func(c challengeJSON) string {
			return "challenge=" + c.Challenge + "&answer=" + solveArithmetic(t, c.Question)
		}, t0 + 3*sec, 200, ""},
		{"right but after 1s", func(c challengeJSON) string {
			return "challenge=" + c.Challenge + "&answer=" + solveArithmetic(t, c.Question)
		}, t0 + sec, 403, "faster than anyone"},
		{"wrong", func(c challengeJSON) string {
			return "challenge=" + c.Challenge + "&answer=-1"
		}, t0 + 3*sec, 403, "not right"},
		{"expired challenge", func(c challengeJSON) string {
			return "challenge=" + c.Challenge + "&answer=" + solveArithmetic(t, c.Question)
		}, t0 + 70*sec, 403, "expired"},
		{"challenge of another client", func(challengeJSON) string {
			c := challenge(stranger)
			return "challenge=" + c.Challenge + "&answer=" + solveArithmetic(t, c.Question)
		}, t0 + 3*sec, 403, "not issued to you"},
		{"forged challenge", func(c challengeJSON) string {
			return "challenge=" + strings.Repeat("A", token.EncodedLen) + "&answer=1"
		}, t0 + 3*sec, 403, "not issued to you"},
		{"no challenge", func(challengeJSON) string { return "answer=4" }, t0 + 3*sec, 403, "not issued to you"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := challenge()
			ctx := callPage(page, "POST", f.page, tt.answer(c), jsonAccept, at(tt.at))
			got := decodeJSON(t, ctx)
			if ctx.Response.StatusCode() != tt.status {
				t.Fatalf("status %d, want %d: %s", ctx.Response.StatusCode(), tt.status, ctx.Response.Body())
			}
			if tt.problem == "" {
				if got.Pass == "" || !bytes.Contains(ctx.Response.Header.PeekCookie(quizCookie), []byte("HttpOnly")) {
					t.Fatalf("no pass or cookie: %s / %s", ctx.Response.Body(), ctx.Response.Header.PeekCookie(quizCookie))
				}
				return
			}
			if !strings.Contains(got.Error+" "+string(ctx.Response.Body()), tt.problem) || got.Challenge == "" {
				t.Fatalf("want a fresh challenge and %q, got %s", tt.problem, ctx.Response.Body())
			}
		})
	}
}

func TestQuizChallengeAnsweredOnce(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {}\n")
	page := f.servePage(env)
	c := decodeJSON(t, callPage(page, "GET", f.page, "", jsonAccept, at(t0)))
	form := "challenge=" + c.Challenge + "&answer=" + solveArithmetic(t, c.Question)
	if ctx := callPage(page, "POST", f.page, form, jsonAccept, at(t0+3*sec)); ctx.Response.StatusCode() != 200 {
		t.Fatalf("first answer: %s", ctx.Response.Body())
	}
	ctx := callPage(page, "POST", f.page, form, jsonAccept, at(t0+4*sec))
	if ctx.Response.StatusCode() != 403 || !bytes.Contains(ctx.Response.Body(), []byte("already answered")) {
		t.Fatalf("replayed answer: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func TestQuizMaxAttempts(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {max_attempts: 3, attempts_window: 1m}\n")
	page := f.servePage(env)
	for i := 1; i <= 4; i++ {
		c := decodeJSON(t, callPage(page, "GET", f.page, "", at(t0), jsonAccept))
		ctx := callPage(page, "POST", f.page, "challenge="+c.Challenge+"&answer=-1", at(t0+3*sec), jsonAccept)
		want := map[bool]int{true: 403, false: 429}[i <= 3]
		if ctx.Response.StatusCode() != want {
			t.Fatalf("answer %d: status %d, want %d", i, ctx.Response.StatusCode(), want)
		}
		if want == 429 && string(ctx.Response.Header.Peek("Retry-After")) != "60" {
			t.Fatalf("Retry-After %q", ctx.Response.Header.Peek("Retry-After"))
		}
	}
	// Another client is not affected, and the window ends.
	c := decodeJSON(t, callPage(page, "GET", f.page, "", at(t0), jsonAccept, withIP("198.51.100.9")))
	if ctx := callPage(page, "POST", f.page, "challenge="+c.Challenge+"&answer=-1", at(t0+3*sec), jsonAccept,
		withIP("198.51.100.9")); ctx.Response.StatusCode() != 403 {
		t.Fatalf("another client: %d", ctx.Response.StatusCode())
	}
}

func TestQuizHTMLFlowWithoutJavaScript(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {}\n")
	page := f.servePage(env)
	get := callPage(page, "GET", f.page, "", at(t0), withHeader("Referer", "http://example.com/buy/42?qty=1"),
		withHeader("Host", "example.com"))
	body := string(get.Response.Body())
	for _, want := range []string{`<form id="fg-quiz" method="post" action="/_flashgate/quiz/buy"`,
		`name="return" value="/buy/42?qty=1"`, `<label for="fg-answer">What is `, `<button type="submit">`} {
		if !strings.Contains(body, want) {
			t.Fatalf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") {
		t.Fatal("the text quiz page uses a script")
	}
	chal := between(body, `name="challenge" value="`, `"`)
	q := between(body, `<label for="fg-answer">`, `</label>`)
	post := callPage(page, "POST", f.page, "challenge="+chal+"&answer="+solveArithmetic(t, htmlUnescape(q))+"&return=/buy/42%3Fqty%3D1",
		at(t0+3*sec), withHeader("Host", "example.com"))
	if post.Response.StatusCode() != 303 || string(post.Response.Header.Peek("Location")) != "/buy/42?qty=1" {
		t.Fatalf("answer: %d Location %q", post.Response.StatusCode(), post.Response.Header.Peek("Location"))
	}
	cookie := string(post.Response.Header.PeekCookie(quizCookie))
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "path=/", "max-age=600"} {
		if !strings.Contains(strings.ToLower(cookie), strings.ToLower(want)) {
			t.Fatalf("cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "secure") {
		t.Fatalf("cookie over plain HTTP is Secure: %q", cookie)
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// htmlUnescape reads text out of a page (html/template writes "+" as &#43;).
func htmlUnescape(s string) string { return html.UnescapeString(s) }

func TestQuizReturnIsLocal(t *testing.T) {
	for in, want := range map[string]string{
		"/buy/42?x=1":          "/buy/42?x=1",
		"//evil.example/":      "/",
		"/\\evil.example/":     "/",
		"https://evil.example": "/",
		"":                     "/",
		"/a/../buy/%34%32":     "/buy/42",
		"/buy/\x00":            "/",
	} {
		if got := string(localPath([]byte(in))); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuizPathScope(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {scope: path}\n")
	pass := earnPass(t, f, t0) // asked for /buy/42
	if v := f.Check(newReq("/buy/43", withCookie(quizCookie, pass), at(t0+4*sec))); reason(v) != "quiz_invalid" {
		t.Fatalf("pass for /buy/42 on /buy/43: %s", reason(v))
	}
	if v := f.Check(newReq("/buy/%34%32", withCookie(quizCookie, pass), at(t0+4*sec))); reason(v) != "pass" {
		t.Fatalf("pass for /buy/42 on /buy/%%34%%32: %s", reason(v))
	}
}

func TestQuizConcurrentRedemption(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {}\n")
	pass := earnPass(t, f, t0)
	var ok atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		r := newReq("/buy/42", withCookie(quizCookie, pass), at(t0+4*sec))
		wg.Go(func() {
			<-start
			if !f.Check(r).Rejected() {
				ok.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := ok.Load(); n != 1 {
		t.Fatalf("%d of 64 concurrent redemptions of one pass succeeded, want 1", n)
	}
}

func TestQuizStateSurvivesUnrelatedReload(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {pass_ttl: 10m}\n")
	pass := earnPass(t, f, t0)
	if f.Check(newReq("/buy/42", withCookie(quizCookie, pass), at(t0+4*sec))).Rejected() {
		t.Fatal("first use refused")
	}
	// Retune a setting that does not change what a pass means.
	g := mustQuiz(t, env, "- quiz: {pass_ttl: 20m, min_solve: 3s}\n")
	if v := g.Check(newReq("/buy/42", withCookie(quizCookie, pass), at(t0+5*sec))); reason(v) != "quiz_used" {
		t.Fatalf("replay after a reload: %s, want quiz_used", reason(v))
	}
	fresh := earnPass(t, f, t0)
	if v := g.Check(newReq("/buy/42", withCookie(quizCookie, fresh), at(t0+5*sec))); reason(v) != "pass" {
		t.Fatalf("a pass earned before the reload: %s", reason(v))
	}
}

func TestQuizCompileErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"- quiz: {mode: riddle}\n", `unknown mode "riddle" (known: text, pow)`},
		{"- quiz: {mode: pow, difficulty: 40}\n", "must be within 8..26, got 40"},
		{"- quiz: {difficulty: 12}\n", "difficulty and fallback are for mode: pow"},
		{"- quiz: {min_solve: 10m, challenge_ttl: 5m}\n", "below challenge_ttl"},
		{"- quiz: {scope: item}\n", `unknown scope "item" (known: route, path)`},
		{"- quiz: {max_attempts: -1}\n", "must be at least 1, got -1"},
		{"- quiz: {bank: missing.yaml}\n", "missing.yaml: no such file"},
		{"- quiz: {bank: bad.yaml}\n", "question 1 (\"Colour?\"): list at least one answer in a"},
		{"- quiz: {colour: red}\n", "colour"},
	}
	for _, tt := range tests {
		_, err := buildOne(t, testEnv(t), tt.yaml, map[string]string{"bad.yaml": "- q: Colour?\n"})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", strings.TrimSpace(tt.yaml), err, tt.want)
		}
	}
}
