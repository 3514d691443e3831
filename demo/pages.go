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

// layout wraps a page body in the shop's chrome for a page shared by
// everyone (cached, an ESI shell): the header's user box is the
// /frag/user fragment, and without ESI assembly the plain "Sign in" link
// shows. title is escaped; body is trusted HTML.
func layout(title, body string) string {
	return chrome(title, `<esi:include src="/frag/user" onerror="continue"/><esi:remove><a class="login" href="/login">Sign in</a></esi:remove>`, body)
}

// personalLayout is layout for a page rendered for one request (private,
// never cached): the user box is written in place.
func personalLayout(user []byte, title, body string) string {
	return chrome(title, string(appendUserBox(nil, user)), body)
}

func chrome(title, userBox, body string) string {
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
<header><a class="brand" href="/">⚡ Demo Shop</a><span class="tag">flash sale</span><div class="who">`)
	b.WriteString(userBox)
	b.WriteString(`</div></header>
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

// appendUserBox renders the header's user box: the signed-in user and a
// sign-out button (a POST, so a link cannot sign anyone out), or a
// sign-in link.
func appendUserBox(b, user []byte) []byte {
	if user == nil {
		return append(b, `<a class="login" href="/login">Sign in</a>`...)
	}
	b = append(b, `<span class="user">Signed in as <b>`...)
	b = append(b, user...) // validUser allows no HTML metacharacters
	return append(b, `</b></span><form class="signout" method="post" action="/login"><input type="hidden" name="signout" value="1"><button type="submit">Sign out</button></form>`...)
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
`)
	if it.ID == doorbuster {
		b.WriteString(doorbusterBanner)
	}
	b.WriteString(`<h1>` + html.EscapeString(it.Name) + `</h1>
<p class="desc">` + html.EscapeString(it.Description) + `</p>
<div class="price"><esi:include src="/frag/price/` + id + `"/></div>
<div class="stock-box"><esi:include src="/frag/stock/` + id + `" onerror="continue"/></div>`)
	if it.ID == doorbuster {
		b.WriteString(doorbusterTerms)
	}
	b.WriteString(`
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
<aside><esi:include src="/frag/cart" onerror="continue"/></aside>`)
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

// doorbuster is the sale's doorbuster: the item the shipped sale file
// (sales/singles-day.yaml) guards with a waiting room, a question, a
// one-per-customer limit and a stock gate. Its page says so.
const doorbuster = 7

// doorbusterBanner heads the doorbuster's page; doorbusterTerms states the
// limit and counts down to the end of the day's deal (midnight UTC, so the
// demo works on any day). Without JavaScript the end time is stated.
const (
	doorbusterBanner = `<p class="doorbuster"><span class="badge">Doorbuster</span> Today only, while stock lasts</p>
`
	doorbusterTerms = `
<ul class="terms">
<li><b>Limit 1 per customer.</b> Sign in to buy; a second order of this item is refused.</li>
<li>Deal ends in <time id="deal-left" class="countdown">at midnight UTC</time>.</li>
<li>Busy? You may wait in a short line and answer one quick check: both keep the sale fair.</li>
</ul>
<script>
(function(){var el=document.getElementById("deal-left");if(!el)return;
function two(n){return n<10?"0"+n:""+n}
function tick(){var now=new Date(),end=Date.UTC(now.getUTCFullYear(),now.getUTCMonth(),now.getUTCDate()+1),s=Math.max(0,Math.floor((end-now)/1000));
el.textContent=Math.floor(s/3600)+":"+two(Math.floor(s%3600/60))+":"+two(s%60);setTimeout(tick,1000)}
tick()})();
</script>`
)
