package demo

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"
)

// maxQty is the most units one purchase may take (?qty=1..5).
const maxQty = 5

// serveBuy handles POST /buy/{id}: one purchase of qty units by the user
// of cookie "uid" (or header X-User-Id). It places an order (pay it at
// /pay/{order}); whether the units are taken now depends on the Mode.
// Answers, in JSON unless the client prefers HTML (a browser form post):
//
//	200 {"ok":true,"item":7,"qty":1,"left":41,"user":"alice","order":12,"pay":"/pay/12"}
//	    + X-Order-Id: 12 (ModeReserve adds "expires_in": seconds to pay)
//	409 {"error":"sold_out","item":7}                      + X-Sold-Out: 1
//	409 {"error":"insufficient_stock","item":7,"left":2}   (fewer left than qty)
//	401 {"error":"login_required"}
//	400 {"error":"bad_qty"}
//	405 {"error":"method_not_allowed"}                     + Allow: POST
//
// A request with an Idempotency-Key gets the first answer to that key
// again (and buys nothing more). Unknown items get 404
// {"error":"unknown_item"} from the router. Every answer is
// Cache-Control: no-store.
func (s *Shop) serveBuy(ctx *fasthttp.RequestCtx, id int) {
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	if !ctx.IsPost() {
		h.Set("Allow", "POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	user := userID(&ctx.Request.Header)
	if user == nil {
		writeError(ctx, fasthttp.StatusUnauthorized, "login_required")
		return
	}
	s.idem.serve(ctx, user, func() { s.placeOrder(ctx, id, user) })
}

// placeOrder is serveBuy for a signed-in user's POST.
func (s *Shop) placeOrder(ctx *fasthttp.RequestCtx, id int, user []byte) {
	qty, ok := parseQty(ctx.FormValue("qty"))
	if !ok {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_qty")
		return
	}
	now := s.clock().UnixNano()
	s.orders.expire(now)
	left, ok := s.inv.left(id), true
	if s.mode == ModePayment {
		ok = left >= int64(qty) // a friendly early answer; payment takes the units
	} else {
		left, ok = s.inv.take(id, int64(qty))
	}
	if !ok {
		s.refuse(ctx, id, left)
		return
	}
	o := s.orders.add(user, id, int64(qty), s.mode != ModePayment, now)
	ctx.Response.Header.Set("X-Order-Id", strconv.FormatInt(o.id, 10))
	cart := addToCart(parseCart(ctx.Request.Header.Cookie("cart"), s.inv.valid), id, qty)
	setCookie(ctx, "cart", appendCart(nil, cart))
	if wantsHTML(ctx) {
		s.writeOrderNotice(ctx, o, left)
		return
	}
	b := append(make([]byte, 0, 128), `{"ok":true,"item":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"qty":`...)
	b = strconv.AppendInt(b, int64(qty), 10)
	b = append(b, `,"left":`...)
	b = strconv.AppendInt(b, left, 10)
	b = append(b, `,"user":"`...)
	b = append(b, user...) // validUser allows no JSON metacharacters
	b = append(b, `","order":`...)
	b = strconv.AppendInt(b, o.id, 10)
	b = append(b, `,"pay":"/pay/`...)
	b = strconv.AppendInt(b, o.id, 10)
	b = append(b, '"')
	if o.expires != 0 {
		b = append(b, `,"expires_in":`...)
		b = strconv.AppendInt(b, (o.expires-now)/1e9, 10)
	}
	b = append(b, '}')
	writeJSON(ctx, fasthttp.StatusOK, b)
}

// refuse answers a purchase that found fewer than qty units left. Only a
// truly empty item is "sold out" (X-Sold-Out: 1, the marker a stock gate
// watches); a partial shortfall is not, or one greedy order would close
// the sale for everyone.
func (s *Shop) refuse(ctx *fasthttp.RequestCtx, id int, left int64) {
	if left == 0 {
		ctx.Response.Header.Set("X-Sold-Out", "1")
	}
	if wantsHTML(ctx) {
		msg := "Sorry, " + s.items[id].Name + " is sold out."
		if left > 0 {
			msg = "Only " + strconv.FormatInt(left, 10) + " left: choose a smaller quantity."
		}
		s.writeNotice(ctx, fasthttp.StatusConflict, false, "Not available", msg, id)
		return
	}
	b := append(make([]byte, 0, 64), `{"error":"`...)
	if left == 0 {
		b = append(b, `sold_out","item":`...)
		b = strconv.AppendInt(b, int64(id), 10)
	} else {
		b = append(b, `insufficient_stock","item":`...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, `,"left":`...)
		b = strconv.AppendInt(b, left, 10)
	}
	writeJSON(ctx, fasthttp.StatusConflict, append(b, '}'))
}

// parseQty parses ?qty (or the form field): absent means 1.
func parseQty(v []byte) (int, bool) {
	if len(v) == 0 {
		return 1, true
	}
	if len(v) != 1 || v[0] < '1' || v[0] > '0'+maxQty {
		return 0, false
	}
	return int(v[0] - '0'), true
}

// wantsHTML reports whether the client asked for HTML (a browser posting
// the buy form) rather than JSON (scripts, apps, load tests).
func wantsHTML(ctx *fasthttp.RequestCtx) bool {
	return bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("text/html"))
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}

// writeError writes {"error":code}; code is a constant identifier.
func writeError(ctx *fasthttp.RequestCtx, status int, code string) {
	writeJSON(ctx, status, []byte(`{"error":"`+code+`"}`))
}

func setCookie(ctx *fasthttp.RequestCtx, name string, value []byte) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValueBytes(value)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	ctx.Response.Header.SetCookie(c)
}
