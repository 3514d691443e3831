package demo

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// handle dispatches a request by path. Exact paths are a switch (no
// allocation: the compiler does not copy for switch string(b)); id paths
// share one prefix table.
func (s *Shop) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if s.caseFold {
		path = bytes.ToLower(path)
	}
	switch string(path) {
	case "/":
		s.serveCatalogue(ctx)
		return
	case "/frag/cart":
		s.serveCart(ctx)
		return
	case "/frag/user":
		s.serveUser(ctx)
		return
	case "/slow":
		s.serveSlow(ctx)
		return
	case "/health":
		s.serveHealth(ctx)
		return
	case "/static/app.css":
		s.serveCSS(ctx)
		return
	case "/login":
		s.serveLogin(ctx)
		return
	}
	if rest, ok := bytes.CutPrefix(path, payPrefix); ok {
		s.servePay(ctx, rest)
		return
	}
	for _, r := range idRoutes {
		if rest, ok := bytes.CutPrefix(path, r.prefix); ok {
			id, ok := s.parseID(rest)
			switch {
			case ok:
				r.serve(s, ctx, id)
			case r.json:
				ctx.Response.Header.Set("Cache-Control", "no-store")
				writeError(ctx, fasthttp.StatusNotFound, "unknown_item")
			default:
				s.serveNotFound(ctx)
			}
			return
		}
	}
	s.serveNotFound(ctx)
}

// payPrefix is the payment step's path, /pay/{order}.
var payPrefix = []byte("/pay/")

// idRoutes are the paths ending in an item id.
var idRoutes = [...]struct {
	prefix []byte
	serve  func(s *Shop, ctx *fasthttp.RequestCtx, id int)
	json   bool // an unknown id gets a JSON 404 rather than the HTML page
}{
	{[]byte("/item/"), (*Shop).serveItem, false},
	{[]byte("/frag/price/"), (*Shop).servePrice, false},
	{[]byte("/frag/stock/"), (*Shop).serveStock, false},
	{[]byte("/buy/"), (*Shop).serveBuy, true},
	{[]byte("/api/items/"), (*Shop).serveAPIItem, true},
}

// parseID parses a decimal item id the way a typical origin does
// (strconv.Atoi without the sign): leading zeros are accepted, so /buy/007
// buys item 7. It reports false for anything else or an unknown id.
func (s *Shop) parseID(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	id := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		id = id*10 + int(c-'0')
	}
	return id, s.inv.valid(id)
}

// readOnly answers 405 unless the method is GET or HEAD, and reports
// whether the handler may go on.
func readOnly(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	ctx.SetBodyString("method not allowed\n")
	return false
}

func (s *Shop) serveNotFound(ctx *fasthttp.RequestCtx) {
	// Cacheable briefly, as real shops answer 404s: the gateway's negative
	// cache can then be seen at work.
	ctx.Response.Header.Set("Cache-Control", "public, s-maxage=10, max-age=10")
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.SetBody(s.pages.notFound)
}
