package filters

import (
	"html"
	"strconv"

	"github.com/valyala/fasthttp"

	"flashgate/token"
)

// The quiz page, /_flashgate/quiz/<route>:
//
//	GET   a challenge: an HTML form (text mode works without JavaScript;
//	      pow mode solves itself with powScript), or for clients whose
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
	if f.bank != nil {
		c.Seq = f.bank.next(r.Now)
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
	case !f.solves(chal, &c, args.Peek("answer"), r.Now):
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

func (f *quiz) solves(chal []byte, c *token.Claims, answer []byte, now int64) bool {
	if f.bank != nil {
		return len(answer) <= maxQuestionLen && f.bank.correct(c.Seq, answer, now)
	}
	return powSolved(chal, answer, f.pow)
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
	ctx.SetBodyString(`<!doctype html><p><a href="` + html.EscapeString(string(ret)) + `">Continue</a></p>` + "\n")
}

func (f *quiz) tooManyAttempts(r *Request) {
	ctx := r.Ctx
	wait := f.window / 1e9
	ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(wait, 10))
	ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
	if WantsJSON(ctx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"too_many_attempts","retry_after":` + strconv.FormatInt(wait, 10) + "}\n")
		return
	}
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBodyString(pageHead("Too many answers") + `<h1>Too many answers</h1>
<p>You have answered too many questions for now. Please try again in ` + strconv.FormatInt((wait+59)/60, 10) + ` minutes.</p>
</body></html>
`)
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
	b := []byte(pageHead("One question first") + "<h1>One question first</h1>\n")
	if problem != "" {
		b = append(append(append(b, `<p class="problem" role="alert">`...), html.EscapeString(problem)...), "</p>\n"...)
	}
	b = append(b, `<form id="fg-quiz" method="post" action="`+f.page+`" data-difficulty="`...)
	b = append(appendInt(b, int64(f.pow)), `" data-wait="`...)
	b = append(appendInt(b, f.minSolve/1e6), `">`+"\n"+`<input type="hidden" name="challenge" value="`...)
	b = append(append(b, tok...), `">`+"\n"+`<input type="hidden" name="return" value="`...)
	b = append(append(b, html.EscapeString(string(ret))...), `">`+"\n"...)
	if f.bank != nil {
		q, _ := f.bank.question(seq, r.Now)
		b = append(b, `<p><label for="fg-answer">`...)
		b = append(append(b, html.EscapeString(q)...), `</label></p>
<p><input id="fg-answer" name="answer" autocomplete="off" required autofocus> <button type="submit">Continue</button></p>
</form>
`...)
	} else {
		b = append(b, `<input type="hidden" name="answer" value="">
<p id="fg-status">Checking your browser…</p>
<noscript><p>This check needs JavaScript. Please enable it and reload the page.</p></noscript>
</form>
`+powScript+"\n"...)
	}
	b = append(b, "</body></html>\n"...)
	r.Ctx.SetContentType("text/html; charset=utf-8")
	r.Ctx.SetStatusCode(status)
	r.Ctx.SetBody(b)
}

// pageHead is the head of the quiz and queue pages, up to <body>.
func pageHead(title string) string {
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>` + html.EscapeString(title) + `</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.5em}.problem{color:#a00}input,button{font-size:1em;padding:.3em}</style>
</head><body>
`
}
