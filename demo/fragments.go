package demo

import (
	"html"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Fragment cache policies: the price changes rarely (10s at the edge), the
// stock every purchase (1s at the edge, so a hot item page costs the origin
// at most one stock read per second), the cart is per user and must never
// be stored anywhere.
const (
	priceCacheControl = "public, s-maxage=10, max-age=5"
	stockCacheControl = "public, s-maxage=1, max-age=0"
	cartCacheControl  = "private, no-store"
	// lowStock is the level under which the stock fragment warns.
	lowStock = 10
)

func (s *Shop) servePrice(ctx *fasthttp.RequestCtx, id int) {
	if !readOnly(ctx) {
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", priceCacheControl)
	h.Set("Surrogate-Key", s.pages.keys[id].price)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(s.pages.prices[id])
}

func (s *Shop) serveStock(ctx *fasthttp.RequestCtx, id int) {
	if !readOnly(ctx) {
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", stockCacheControl)
	h.Set("Surrogate-Key", s.pages.keys[id].stock)
	ctx.SetContentType("text/html; charset=utf-8")
	var buf [96]byte // SetBody copies: the buffer stays on the stack
	ctx.SetBody(appendStock(buf[:0], s.inv.left(id)))
}

// appendStock renders the stock fragment; data-left carries the number for
// scripts and tests.
func appendStock(b []byte, left int64) []byte {
	class, text := "in", " in stock"
	switch {
	case left == 0:
		class, text = "out", "Sold out"
	case left < lowStock:
		class, text = "low", " left, hurry"
	}
	b = append(b, `<span class="stock `...)
	b = append(b, class...)
	b = append(b, `" data-left="`...)
	b = strconv.AppendInt(b, left, 10)
	b = append(b, `">`...)
	if left > 0 {
		b = strconv.AppendInt(b, left, 10)
	}
	b = append(b, text...)
	return append(b, `</span>`...)
}

// serveCart renders the user's cart from cookies "uid" and "cart". It names
// the user in data-user, so that a test can detect a cart served to the
// wrong user.
func (s *Shop) serveCart(ctx *fasthttp.RequestCtx) {
	if !readOnly(ctx) {
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", cartCacheControl)
	h.Set("Vary", "Cookie")
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(s.appendCartBox(nil, userID(&ctx.Request.Header), ctx.Request.Header.Cookie("cart")))
}

func (s *Shop) appendCartBox(b, user, cookie []byte) []byte {
	if user == nil {
		return append(b, `<div class="cart" data-user=""><b>Not signed in.</b> <a href="/login">Sign in</a> to buy.</div>`...)
	}
	b = append(b, `<div class="cart" data-user="`...)
	b = append(b, user...) // validUser allows no HTML metacharacters
	b = append(b, `"><b>`...)
	b = append(b, user...)
	b = append(b, `'s cart</b>`...)
	lines := parseCart(cookie, s.inv.valid)
	if len(lines) == 0 {
		return append(b, `: empty.</div>`...)
	}
	b = append(b, "<ul>"...)
	for _, l := range lines {
		b = append(b, "<li>"...)
		b = strconv.AppendInt(b, int64(l.qty), 10)
		b = append(b, " × "...)
		b = append(b, html.EscapeString(s.items[l.id].Name)...)
		b = append(b, "</li>"...)
	}
	return append(b, "</ul></div>"...)
}
