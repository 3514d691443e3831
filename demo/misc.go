package demo

import (
	"encoding/json"
	"html"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// serveSlow sleeps ?ms=N milliseconds (default 1000, capped at MaxSlow),
// then answers, to demonstrate the gateway's origin timeouts. Shutdown
// ends the sleep early so it never delays a graceful stop.
func (s *Shop) serveSlow(ctx *fasthttp.RequestCtx) {
	d := time.Second
	if v := ctx.QueryArgs().Peek("ms"); len(v) > 0 {
		ms, err := strconv.Atoi(string(v))
		if err != nil || ms < 0 {
			ctx.Response.Header.Set("Cache-Control", "no-store")
			writeError(ctx, fasthttp.StatusBadRequest, "bad_ms")
			return
		}
		d = min(time.Duration(ms)*time.Millisecond, MaxSlow)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	b := strconv.AppendInt([]byte(`{"slept_ms":`), d.Milliseconds(), 10)
	writeJSON(ctx, fasthttp.StatusOK, append(b, '}'))
}

func (s *Shop) serveHealth(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if !s.healthy.Load() {
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, []byte(`{"status":"down"}`))
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"ok"}`))
}

// apiItem is the JSON of /api/items/{id}.
type apiItem struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Price     string `json:"price"`
	ListPrice string `json:"list_price"`
	Currency  string `json:"currency"`
	Stock     int64  `json:"stock"`
	Sold      int64  `json:"sold"`
}

func (s *Shop) serveAPIItem(ctx *fasthttp.RequestCtx, id int) {
	if !readOnly(ctx) {
		return
	}
	it := &s.items[id]
	body, err := json.Marshal(apiItem{
		ID:        id,
		Name:      it.Name,
		Price:     string(appendMoney(nil, it.PriceCents)),
		ListPrice: string(appendMoney(nil, it.ListCents)),
		Currency:  "USD",
		Stock:     s.inv.left(id),
		Sold:      s.inv.soldOf(id),
	})
	if err != nil {
		panic("BUG: demo: marshal apiItem: " + err.Error())
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", stockCacheControl) // it carries the stock
	h.Set("Surrogate-Key", s.pages.keys[id].api)
	writeJSON(ctx, fasthttp.StatusOK, body)
}

// serveLogin is a password-less sign-in for the demo: GET shows a form,
// POST user=NAME sets cookie "uid" and redirects to next (a path on this
// site, e.g. the item page the buyer came from), else the catalogue.
// POST signout=1 signs out.
func (s *Shop) serveLogin(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	switch {
	case ctx.IsPost() && len(ctx.FormValue("signout")) > 0:
		clearCookie(ctx, "uid")
		ctx.Response.Header.Set("Location", "/")
		ctx.SetStatusCode(fasthttp.StatusSeeOther)
	case ctx.IsPost():
		user := ctx.FormValue("user")
		if !validUser(user) {
			s.writeLoginForm(ctx, fasthttp.StatusBadRequest, "A name is 1 to 64 letters, digits or . _ @ -")
			return
		}
		setCookie(ctx, "uid", user)
		ctx.Response.Header.SetBytesV("Location", localNext(ctx.FormValue("next")))
		ctx.SetStatusCode(fasthttp.StatusSeeOther)
	case ctx.IsGet() || ctx.IsHead():
		s.writeLoginForm(ctx, fasthttp.StatusOK, "")
	default:
		ctx.Response.Header.Set("Allow", "GET, HEAD, POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	}
}

func (s *Shop) writeLoginForm(ctx *fasthttp.RequestCtx, status int, problem string) {
	body := `<div class="notice"><h1>Sign in</h1>`
	if problem != "" {
		body += `<p><b>` + html.EscapeString(problem) + `</b></p>`
	}
	body += `<form class="buy" method="post" action="/login"><input type="hidden" name="next" value="` +
		html.EscapeString(string(localNext(ctx.QueryArgs().Peek("next")))) +
		`"><label>Your name <input name="user" maxlength="64" required autofocus></label><button type="submit">Sign in</button></form></div>`
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(personalLayout(userID(&ctx.Request.Header), "Sign in", body))
}

// writeNotice answers a browser with a small HTML page about item id.
func (s *Shop) writeNotice(ctx *fasthttp.RequestCtx, status int, ok bool, title, msg string, id int) {
	class := "notice"
	if ok {
		class += " ok"
	}
	body := `<div class="` + class + `"><h1>` + html.EscapeString(title) + `</h1><p>` + html.EscapeString(msg) +
		`</p><p><a href="/item/` + strconv.Itoa(id) + `">Back to the item</a> · <a href="/">All items</a></p></div>`
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(personalLayout(userID(&ctx.Request.Header), title, body))
}

// localNext returns next when it is a path on this site ("/item/7"), else
// "/": a sign-in must not redirect to another site.
func localNext(next []byte) []byte {
	if len(next) == 0 || next[0] != '/' || (len(next) > 1 && (next[1] == '/' || next[1] == '\\')) {
		return []byte("/")
	}
	for _, c := range next {
		if c < 0x21 || c == 0x7f {
			return []byte("/")
		}
	}
	return next
}
