package demo

import (
	"hash/fnv"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// page is a rendered static response body and its strong validator.
type page struct {
	body []byte
	etag []byte // quoted, e.g. "9f2c…"
}

func newPage(body string) page {
	h := fnv.New64a()
	h.Write([]byte(body))
	etag := strconv.AppendUint([]byte{'"'}, h.Sum64(), 36)
	return page{body: []byte(body), etag: append(etag, '"')}
}

// pages holds everything the shop renders once, in New. They never change
// afterwards, so handlers share them without locks.
type pages struct {
	modTime   time.Time // Last-Modified of every static page
	lastMod   []byte    // modTime as an HTTP date
	catalogue page
	items     []page   // item shells by id
	prices    [][]byte // price fragments by id
	keys      []itemKeys
	css       page
	notFound  []byte
}

// itemKeys are the Surrogate-Key values of one item's responses, built
// once so that answering allocates nothing for them.
type itemKeys struct {
	item, price, stock, api string
}

func renderPages(items []item, modTime time.Time) *pages {
	p := &pages{
		modTime:   modTime,
		lastMod:   fasthttp.AppendHTTPDate(nil, modTime),
		catalogue: newPage(renderCatalogue(items[1:])),
		items:     make([]page, len(items)),
		prices:    make([][]byte, len(items)),
		keys:      make([]itemKeys, len(items)),
		css:       newPage(appCSS),
		notFound:  []byte(layout("Not found", `<div class="notice"><h1>Not found</h1><p>There is nothing at this address. <a href="/">Back to the shop</a>.</p></div>`)),
	}
	for id := 1; id < len(items); id++ {
		p.items[id] = newPage(renderItem(&items[id]))
		p.prices[id] = renderPrice(&items[id])
		k := "item:" + strconv.Itoa(id)
		p.keys[id] = itemKeys{item: k, price: "price " + k, stock: "stock " + k, api: "api " + k}
	}
	return p
}

// layout wraps a page body in the shop's chrome. title is escaped; body is
// trusted HTML.
func layout(title, body string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`)
	b.WriteString(html.EscapeString(title))
	b.WriteString(` · Demo Shop</title>
<style>`)
	b.WriteString(baseCSS)
	b.WriteString(`</style>
<link rel="stylesheet" href="/static/app.css">
</head><body>
<header><a class="brand" href="/">⚡ Demo Shop</a><span class="tag">flash sale</span><a class="login" href="/login">Sign in</a></header>
<main>
`)
	b.WriteString(body)
	b.WriteString(`
</main>
<footer>Demo origin of flashgate · every page here is served by the embedded demo shop</footer>
</body></html>
`)
	return b.String()
}

func renderCatalogue(items []item) string {
	var b strings.Builder
	b.WriteString(`<h1>Today's flash sale</h1>
<p>Limited stock, 40% off, while it lasts.</p>
<ul class="grid">
`)
	for i := range items {
		it := &items[i]
		id := strconv.Itoa(it.ID)
		b.WriteString(`<li class="card"><a href="/item/` + id + `">`)
		b.WriteString(`<div class="thumb" aria-hidden="true">` + initial(it.Name) + `</div>`)
		b.WriteString(`<h3>` + html.EscapeString(it.Name) + `</h3>`)
		b.WriteString(`<span class="now">$` + string(appendMoney(nil, it.PriceCents)) + `</span>`)
		b.WriteString(`<s class="was">$` + string(appendMoney(nil, it.ListCents)) + `</s>`)
		b.WriteString("</a></li>\n")
	}
	b.WriteString("</ul>")
	return layout("Flash sale", b.String())
}

// renderItem renders an item page as an ESI shell: the description is
// static and cacheable for everyone; price, stock and the user's cart are
// holes filled at the edge, each with its own cache policy.
func renderItem(it *item) string {
	id := strconv.Itoa(it.ID)
	var b strings.Builder
	b.WriteString(`<article class="item">
<div class="thumb" aria-hidden="true">` + initial(it.Name) + `</div>
<div class="info">
<h1>` + html.EscapeString(it.Name) + `</h1>
<p class="desc">` + html.EscapeString(it.Description) + `</p>
<div class="price"><esi:include src="/frag/price/` + id + `"/></div>
<div class="stock-box"><esi:include src="/frag/stock/` + id + `"/></div>
<form class="buy" method="post" action="/buy/` + id + `">
<label>Quantity <select name="qty">`)
	for q := 1; q <= maxQty; q++ {
		b.WriteString(`<option>` + strconv.Itoa(q) + `</option>`)
	}
	b.WriteString(`</select></label>
<button type="submit">Buy now</button>
</form>
</div>
</article>
<aside><esi:include src="/frag/cart"/></aside>`)
	return layout(it.Name, b.String())
}

func renderPrice(it *item) []byte {
	b := []byte(`<span class="now">$`)
	b = appendMoney(b, it.PriceCents)
	b = append(b, `</span><s class="was">$`...)
	b = appendMoney(b, it.ListCents)
	pct := 100 - it.PriceCents*100/it.ListCents
	b = append(b, `</s><span class="off">-`...)
	b = strconv.AppendInt(b, pct, 10)
	return append(b, `%</span>`...)
}

func initial(name string) string {
	if name == "" {
		return "?"
	}
	return html.EscapeString(name[:1])
}
