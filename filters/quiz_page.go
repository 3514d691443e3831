package filters

import (
	"bytes"
	"html"
	"strconv"

	"github.com/valyala/fasthttp"

	"flashgate/token"
)

// The quiz page, /_flashgate/quiz/<route>:
//
//	GET   a challenge: an HTML form (text mode works without JavaScript;
//	      pow mode solves itself, templates/solver.html, and asks a text
//	      question without JavaScript), or for clients whose
//	      Accept mentions json, 200 {"mode","question"|"difficulty",
//	      "challenge","answer_url","min_solve_ms","expires_in"}.
//	POST  form fields challenge, answer, return. Right: the pass is set as
//	      cookie fg_quiz and the browser is sent back (303) to return; JSON
//	      clients get 200 {"pass","expires_in","header","cookie"}. Wrong, too
//	      fast, expired or foreign challenge: 403 with a fresh challenge.
//	      Too many answers: 429 with Retry-After.
//
// The challenge is a signed token (kind quiz_challenge) holding the scope,
// the client, the issue time and the question id, so the server keeps no
// state per challenge; each one can be answered once (its nonce is spent).

func (f *quiz) servePage(env *Env) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		r := pageRequest(ctx, env)
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
		switch {
		case ctx.IsGet() || ctx.IsHead():
			ret := ctx.QueryArgs().Peek("return")
			if len(ret) == 0 {
				ret = refererPath(ctx)
			}
			f.challenge(r, localPath(ret), 200, "")
		case ctx.IsPost():
			f.answer(r)
		default:
			ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD, POST")
			ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		}
	}
}

// challenge writes a fresh challenge for a client going back to ret.
func (f *quiz) challenge(r *Request, ret []byte, status int, problem string) {
	subject, _ := r.Key(f.id)
	c := token.Claims{Kind: token.KindQuizChallenge, Scope: f.scopeOf(ret), Subject: subject,
		IssuedAt: r.Now, ExpiresAt: r.Now + f.chalTTL, Seq: uint64(f.pow)}
	c.RandomNonce()
	switch {
	case f.bank != nil:
		c.Seq = f.bank.next(r.Now)
	case f.fallback != nil:
		c.Seq = powSeq(f.pow, f.fallback.next(r.Now))
	}
	tok := f.keys.Sign(nil, &c)
	f.issued.Inc()
	if WantsJSON(r.Ctx) {
		f.challengeJSON(r, tok, c.Seq, status, problem)
		return
	}
	f.challengeHTML(r, tok, c.Seq, ret, status, problem)
}

// scopeOf is the scope claim of a pass for the path part of ret.
func (f *quiz) scopeOf(ret []byte) uint64 {
	path := ret
	for i, b := range ret {
		if b == '?' {
			path = ret[:i]
			break
		}
	}
	return f.scope(path)
}

// answer checks a submitted answer and issues the pass.
func (f *quiz) answer(r *Request) {
	args := r.Ctx.PostArgs()
	ret := localPath(args.Peek("return"))
	subject, _ := r.Key(f.id)
	// An attempt the store cannot count (it is full) is refused like one
	// over the limit: uncounted attempts would be unlimited guesses.
	if n, tracked := f.store.AddTracked(Mix(f.prefix^attemptsSalt, subject), 1, f.window, r.Now); !tracked || n > f.maxTries {
		f.refused.Inc()
		f.tooManyAttempts(r)
		return
	}
	chal := args.Peek("challenge")
	var c token.Claims
	problem := ""
	switch err := f.keys.Verify(&c, chal, r.Now); {
	case err == token.ErrExpired:
		problem = "That question has expired. Here is a new one."
	case err != nil || c.Kind != token.KindQuizChallenge || c.Subject != subject || !f.issuedHere(&c, ret):
		problem = "That question was not issued to you. Here is a new one."
	case r.Now-c.IssuedAt < f.minSolve:
		problem = "That was faster than anyone can read the question. Please take a moment and try again."
	case !f.store.SpendOnce(challengeKey(&c), c.ExpiresAt+f.keys.Leeway(), r.Now):
		problem = "That question was already answered. Here is a new one."
	case !f.solves(chal, &c, args.Peek("answer"), args.Peek("text_answer"), r.Now):
		problem = "That answer is not right. Please try this one."
	}
	if problem != "" {
		f.refused.Inc()
		f.challenge(r, ret, fasthttp.StatusForbidden, problem)
		return
	}
	f.issuePass(r, c.Scope, ret)
}

// Salts that keep the attempt counters and spent challenges of a filter
// apart from its spent passes under the same prefix.
const (
	attemptsSalt  = 0x6174746d70747321 // "attmpts!"
	challengeSalt = 0x6368616c6c656e67 // "challeng"
)

// solves checks an answer: the question's (text mode), or the work's (pow
// mode), or in pow mode without JavaScript the fallback question's, posted
// as text_answer.
func (f *quiz) solves(chal []byte, c *token.Claims, answer, text []byte, now int64) bool {
	switch {
	case f.bank != nil:
		return len(answer) <= maxQuestionLen && f.bank.correct(c.Seq, answer, now)
	case len(answer) == 0 && f.fallback != nil:
		return len(text) > 0 && len(text) <= maxQuestionLen && f.fallback.correct(c.Seq>>8, text, now)
	}
	return powSolved(chal, answer, f.pow)
}

// In pow mode a challenge's Seq holds the difficulty in its low byte (so
// only a quiz of that difficulty redeems it, issuedHere) and the fallback
// question's id above it (question ids fit in 24 bits).
func powSeq(difficulty int, question uint64) uint64 { return question<<8 | uint64(difficulty) }

func powOf(seq uint64) int { return int(seq & 0xff) }

// question is the text of the challenge's question: text mode's, or pow
// mode's fallback ("" without one).
func (f *quiz) question(seq uint64, now int64) string {
	var q string
	switch {
	case f.bank != nil:
		q, _ = f.bank.question(seq, now)
	case f.fallback != nil:
		q, _ = f.fallback.question(seq>>8, now)
	}
	return q
}

func (f *quiz) issuePass(r *Request, scope uint64, ret []byte) {
	subject, _ := r.Key(f.id)
	p := token.Claims{Kind: token.KindQuizPass, Scope: scope, Subject: subject,
		IssuedAt: r.Now, ExpiresAt: r.Now + f.passTTL}
	p.RandomNonce()
	tok := f.keys.Sign(nil, &p)
	setTokenCookie(r, quizCookie, tok, f.passTTL)
	f.solved.Inc()
	ctx := r.Ctx
	if WantsJSON(ctx) {
		b := append([]byte(`{"pass":"`), tok...)
		b = append(append(b, `","expires_in":`...), appendInt(nil, f.passTTL/1e9)...)
		b = append(b, `,"header":"`+quizHeader+`","cookie":"`+quizCookie+`"}`+"\n"...)
		ctx.SetContentType("application/json")
		ctx.SetStatusCode(200)
		ctx.SetBody(b)
		return
	}
	ctx.Response.Header.SetBytesV(fasthttp.HeaderLocation, ret)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBodyString(`<!doctype html><title>Continue</title><p><a href="` + html.EscapeString(string(ret)) + `">Continue</a></p>` + "\n")
}

func (f *quiz) tooManyAttempts(r *Request) {
	ctx := r.Ctx
	wait := f.window / 1e9
	ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(wait, 10))
	ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
	msg := "You have answered too many questions for now. Please try again in " + WaitText(wait) + "."
	if WantsJSON(ctx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"too_many_attempts","retry_after":` + strconv.FormatInt(wait, 10) +
			`,"message":` + jsonString(msg) + "}\n")
		return
	}
	f.writePage(r, "quiz_too_many", &PageData{Status: 429, Title: "Too many answers", Message: msg, RetryAfter: wait})
}

// writePage executes a page of the quiz's set for this request (the
// question page is per request: it carries a freshly signed challenge).
func (f *quiz) writePage(r *Request, page string, d *PageData) {
	d.Shop, d.Page, d.Route, d.Filter, d.TimeURL = f.pages.shop, page, f.route, "quiz", TimePath
	var buf bytes.Buffer
	if err := f.pages.pages[page].Execute(&buf, d); err != nil {
		// Checked at load with every field set: only a template that
		// fails on some values (a shop's {{index}}) gets here.
		r.Ctx.Error("the page could not be shown\n", fasthttp.StatusInternalServerError)
		return
	}
	r.Ctx.SetContentType("text/html; charset=utf-8")
	r.Ctx.SetStatusCode(d.Status)
	r.Ctx.SetBody(buf.Bytes())
}

func (f *quiz) challengeJSON(r *Request, tok []byte, seq uint64, status int, problem string) {
	b := []byte(`{`)
	if problem != "" {
		b = append(b, `"error":"answer_refused","message":`...)
		b = append(appendJSONString(b, problem), ',')
	}
	if f.bank != nil {
		q, _ := f.bank.question(seq, r.Now)
		b = append(b, `"mode":"text","question":`...)
		b = appendJSONString(b, q)
	} else {
		b = append(append(b, `"mode":"pow","difficulty":`...), appendInt(nil, int64(f.pow))...)
	}
	b = append(append(b, `,"challenge":"`...), tok...)
	b = append(b, `","answer_url":"`+f.page+`","min_solve_ms":`...)
	b = appendInt(b, f.minSolve/1e6)
	b = append(append(b, `,"expires_in":`...), appendInt(nil, f.chalTTL/1e9)...)
	b = append(b, "}\n"...)
	r.Ctx.SetContentType("application/json")
	r.Ctx.SetStatusCode(status)
	r.Ctx.SetBody(b)
}

func (f *quiz) challengeHTML(r *Request, tok []byte, seq uint64, ret []byte, status int, problem string) {
	q := QuizData{Mode: "pow", Challenge: string(tok), Action: f.page, Return: string(ret),
		Difficulty: f.pow, MinSolveMS: f.minSolve / 1e6, Problem: problem}
	if f.bank != nil {
		q.Mode = "text"
	}
	q.Question = f.question(seq, r.Now)
	title := "One question first"
	if q.Mode == "pow" {
		title = "Just a moment"
	}
	f.writePage(r, "quiz", &PageData{Status: status, Title: title, Quiz: q,
		Message: "To keep this sale fair, we check that every buyer is a person. It only takes a moment."})
}
