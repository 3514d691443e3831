package filters

import (
	"encoding/json"
	"html/template"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// holdAnswer is the JSON of /_flashgate/hold/{route}: a lookup
// ({"order","item","units","state":"held","expires_in_ms"}, or
// {"order","state":"none"}) and a confirmation's result
// ({"order","outcome","state":"released"} or {"error":code}).
type holdAnswer struct {
	Order       string `json:"order,omitempty"`
	Item        string `json:"item,omitempty"`
	Units       int64  `json:"units,omitempty"`
	State       string `json:"state,omitempty"`
	ExpiresInMS int64  `json:"expires_in_ms,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	Error       string `json:"error,omitempty"`
}

// holdPage is the buyer's view of a hold: the time left, counted down by
// a script and refreshed by the page itself without one.
var holdPage = template.Must(template.New("hold").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
{{if eq .State "held"}}<meta http-equiv="refresh" content="15">{{end}}
<title>Your reservation</title></head><body>
{{if eq .State "held"}}<h1>Reserved for you</h1>
<p>Order {{.Order}}: {{.Units}} × item {{.Item}} is held for you for
<strong id="left" data-ms="{{.ExpiresInMS}}">{{.Left}}</strong> more. Pay before then, or it goes back on sale.</p>
<script>(function(){var e=document.getElementById("left"),end=Date.now()+(+e.dataset.ms);
function t(){var s=Math.max(0,Math.round((end-Date.now())/1000));e.textContent=Math.floor(s/60)+"m "+(s%60)+"s";if(s>0)setTimeout(t,1000);}t();})();</script>
{{else}}<h1>No reservation</h1><p>Order {{.Order}} holds nothing now: it was paid, cancelled, or its time ran out.</p>{{end}}
</body></html>`))

// servePage answers GET ?order=ID (the hold and its time left) and POST
// order, outcome, sig (the shop's confirmation).
func (rg *reserveGate) servePage(g *stockGate, env *Env) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
		now := pageRequest(ctx, env).Now
		switch {
		case ctx.IsPost():
			args := ctx.PostArgs()
			order := string(args.Peek("order"))
			h, code := rg.confirm(order, string(args.Peek("outcome")), string(args.Peek("sig")), now)
			if code != "" {
				status := fasthttp.StatusForbidden
				if code == "not_held" {
					status = fasthttp.StatusConflict
				}
				writeHoldJSON(ctx, status, holdAnswer{Error: code})
				return
			}
			writeHoldJSON(ctx, fasthttp.StatusOK, holdAnswer{Order: h.Order, Item: h.Item, Units: h.Units,
				Outcome: string(args.Peek("outcome")), State: "released"})
		case ctx.IsGet() || ctx.IsHead():
			rg.serveLookup(ctx, string(ctx.QueryArgs().Peek("order")), now)
		default:
			ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD, POST")
			writeHoldJSON(ctx, fasthttp.StatusMethodNotAllowed, holdAnswer{Error: "method_not_allowed"})
		}
	}
}

func (rg *reserveGate) serveLookup(ctx *fasthttp.RequestCtx, order string, now int64) {
	if !validOrderID([]byte(order)) {
		writeHoldJSON(ctx, fasthttp.StatusBadRequest, holdAnswer{Error: "bad_order"})
		return
	}
	a := holdAnswer{Order: order, State: "none"}
	if h, ok := rg.book.Lookup(order, now); ok {
		a = holdAnswer{Order: order, Item: h.Item, Units: h.Units, State: "held", ExpiresInMS: (h.Expires - now) / 1e6}
	}
	if WantsJSON(ctx) {
		writeHoldJSON(ctx, fasthttp.StatusOK, a)
		return
	}
	var b strings.Builder
	left := a.ExpiresInMS / 1000
	_ = holdPage.Execute(&b, struct {
		holdAnswer
		Left string
	}{a, formatLeft(left)})
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBodyString(b.String())
}

// formatLeft writes seconds as "9m 59s".
func formatLeft(s int64) string {
	return strconv.FormatInt(s/60, 10) + "m " + strconv.FormatInt(s%60, 10) + "s"
}

func writeHoldJSON(ctx *fasthttp.RequestCtx, status int, a holdAnswer) {
	b, _ := json.Marshal(a) // plain strings and ints: cannot fail
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(append(b, '\n'))
}
