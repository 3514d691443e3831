package demo

import (
	"html"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// servePay handles /pay/{order}, the payment step of the order's user:
//
//	GET                        the order: a page with Pay and Abandon buttons, or JSON
//	                           {"order","item","qty","state","expires_in"?}
//	POST action=pay (default)  200 {"ok":true,"order","item","qty","state":"paid"}
//	POST action=cancel         200 {"ok":true,"order","item","qty","state":"cancelled"}
//	409 {"error":"not_pending","state":"paid|cancelled|expired"}  (paid twice, too late, ...)
//	409 {"error":"sold_out","item"} + X-Sold-Out: 1 when empty     (ModePayment: gone at checkout)
//	404 {"error":"unknown_order"}    (no such order, or another user's)
//	401 {"error":"login_required"}
//
// Paying and abandoning are told to the gateway (Options.Confirm) before
// the answer, so a unit given back is on sale again when the buyer reads
// it. A POST with an Idempotency-Key is answered once (see idempotency).
func (s *Shop) servePay(ctx *fasthttp.RequestCtx, rest []byte) {
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	id, err := strconv.ParseInt(string(rest), 10, 64)
	user := userID(&ctx.Request.Header)
	switch {
	case user == nil:
		writeError(ctx, fasthttp.StatusUnauthorized, "login_required")
		return
	case err != nil || id < 1:
		writeError(ctx, fasthttp.StatusNotFound, "unknown_order")
		return
	}
	switch {
	case ctx.IsPost():
		s.idem.serve(ctx, user, func() { s.settle(ctx, id, user) })
	case ctx.IsGet() || ctx.IsHead():
		s.showOrder(ctx, id, user)
	default:
		h.Set("Allow", "GET, HEAD, POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed")
	}
}

func (s *Shop) settle(ctx *fasthttp.RequestCtx, id int64, user []byte) {
	now := s.clock().UnixNano()
	cancel := string(ctx.FormValue("action")) == "cancel"
	var o order
	var res settleResult
	if cancel {
		o, res = s.orders.cancel(id, user, now)
	} else {
		o, res = s.orders.pay(id, user, now)
	}
	switch res {
	case notYourOrder:
		writeError(ctx, fasthttp.StatusNotFound, "unknown_order")
		return
	case notPending:
		s.writeOrder(ctx, fasthttp.StatusConflict, o, now, "not_pending")
		return
	case outOfStock:
		s.confirm.send(o.id, false)
		s.refuse(ctx, o.item, s.inv.left(o.item))
		return
	}
	s.confirm.send(o.id, !cancel)
	s.writeOrder(ctx, fasthttp.StatusOK, o, now, "")
}

func (s *Shop) showOrder(ctx *fasthttp.RequestCtx, id int64, user []byte) {
	now := s.clock().UnixNano()
	s.orders.expire(now)
	o, ok := s.orders.get(id)
	if !ok || o.user != string(user) {
		writeError(ctx, fasthttp.StatusNotFound, "unknown_order")
		return
	}
	s.writeOrder(ctx, fasthttp.StatusOK, o, now, "")
}

// writeOrder answers with order o: JSON, or the payment page.
func (s *Shop) writeOrder(ctx *fasthttp.RequestCtx, status int, o order, now int64, errCode string) {
	if wantsHTML(ctx) {
		s.writePayPage(ctx, status, o, now)
		return
	}
	b := append(make([]byte, 0, 128), '{')
	if errCode != "" {
		b = append(b, `"error":"`+errCode+`",`...)
	} else if status == fasthttp.StatusOK && ctx.IsPost() {
		b = append(b, `"ok":true,`...)
	}
	b = append(b, `"order":`...)
	b = strconv.AppendInt(b, o.id, 10)
	b = append(b, `,"item":`...)
	b = strconv.AppendInt(b, int64(o.item), 10)
	b = append(b, `,"qty":`...)
	b = strconv.AppendInt(b, o.qty, 10)
	b = append(b, `,"state":"`+o.state.String()+`"`...)
	if o.state == orderPending && o.expires != 0 {
		b = append(b, `,"expires_in":`...)
		b = strconv.AppendInt(b, (o.expires-now)/1e9, 10)
	}
	writeJSON(ctx, status, append(b, '}'))
}

// writePayPage is the payment step in a browser: forms, no script needed.
func (s *Shop) writePayPage(ctx *fasthttp.RequestCtx, status int, o order, now int64) {
	name := html.EscapeString(s.items[o.item].Name)
	ref := strconv.FormatInt(o.id, 10)
	body := `<div class="notice"><h1>Order ` + ref + `</h1><p>` + strconv.FormatInt(o.qty, 10) + ` × ` + name + `: <b>` + o.state.String() + `</b></p>`
	if o.state == orderPending {
		if o.expires != 0 {
			left := time.Duration(o.expires - now).Round(time.Second)
			body += `<p>Held for you for <b id="hold-left">` + left.String() + `</b>: pay before then, or it goes back on sale.</p>`
		}
		body += `<form class="buy" method="post" action="/pay/` + ref + `"><input type="hidden" name="action" value="pay"><button type="submit">Pay now</button></form>` +
			`<form method="post" action="/pay/` + ref + `"><input type="hidden" name="action" value="cancel"><button type="submit">Abandon this order</button></form>`
	}
	body += `<p><a href="/item/` + strconv.Itoa(o.item) + `">Back to the item</a> · <a href="/">All items</a></p></div>`
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(layout("Order "+ref, body))
}

// writeOrderNotice answers a browser's purchase: the order is placed, pay
// it next.
func (s *Shop) writeOrderNotice(ctx *fasthttp.RequestCtx, o *order, left int64) {
	ref := strconv.FormatInt(o.id, 10)
	msg := strconv.FormatInt(o.qty, 10) + " × " + s.items[o.item].Name + " is yours. " + strconv.FormatInt(left, 10) + " left."
	if s.mode == ModePayment {
		msg = strconv.FormatInt(o.qty, 10) + " × " + s.items[o.item].Name + " is in your order: it is yours when you pay, while stock lasts."
	}
	body := `<div class="notice ok"><h1>Order placed</h1><p>` + html.EscapeString(msg) + `</p>` +
		`<p><a class="button" href="/pay/` + ref + `">Pay for order ` + ref + `</a></p>` +
		`<p><a href="/item/` + strconv.Itoa(o.item) + `">Back to the item</a> · <a href="/">All items</a></p></div>`
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyString(layout("Order placed", body))
}
