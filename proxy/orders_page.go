package proxy

import (
	"bytes"
	"encoding/json"
	"html/template"

	"github.com/valyala/fasthttp"

	"flashgate/filters"
	"flashgate/orders"
)

// ordersPrefix is where a ticket's state is read: /_flashgate/orders/{ticket}.
var ordersPrefix = []byte("/_flashgate/orders/")

// ticketJSON is a pending ticket's JSON (202).
type ticketJSON struct {
	Ticket    string `json:"ticket"`
	State     string `json:"state"`
	Place     int    `json:"place,omitempty"`
	StatusURL string `json:"status_url"`
}

// ticketPage is a pending ticket for browsers: it reloads itself from the
// ticket's address (so it works without JavaScript), and with JavaScript
// shows the place as it moves and goes to the outcome as soon as it is in.
var ticketPage = template.Must(template.New("ticket").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta http-equiv="refresh" content="2;url={{.StatusURL}}">
<title>Your order is in line</title></head><body>
<h1>Your order is in line</h1>
<p id="state">{{if .Place}}Place <b id="place">{{.Place}}</b> in line.{{else}}Being placed with the shop now.{{end}}</p>
<p>Keep this page open: it shows the shop's answer as soon as it is in. Ticket <code>{{.Ticket}}</code>.</p>
<script>(function(){var u={{.StatusURL}};function poll(){fetch(u,{headers:{Accept:"application/json"},cache:"no-store",credentials:"same-origin"})
.then(function(r){if(r.status!==202){location.replace(u);return null;}return r.json();})
.then(function(t){if(!t)return;document.getElementById("state").textContent=t.place?"Place "+t.place+" in line.":"Being placed with the shop now.";setTimeout(poll,1000);})
.catch(function(){setTimeout(poll,2000);});}setTimeout(poll,1000);})();</script>
</body></html>`))

// writeTicket answers with a ticket: 202 and where to read it while it is
// pending, else its outcome.
func writeTicket(ctx *fasthttp.RequestCtx, st orders.Status, now int64) {
	resp := &ctx.Response
	resp.Reset()
	h := &resp.Header
	h.Set("Cache-Control", "no-store")
	h.Set("X-Order-Ticket", st.Ticket)
	if st.State == orders.Done {
		writeOutcome(ctx, st)
		return
	}
	t := ticketJSON{Ticket: st.Ticket, State: st.State.String(), Place: st.Place,
		StatusURL: string(ordersPrefix) + st.Ticket}
	h.Set("Location", t.StatusURL)
	h.Set("Retry-After", "1")
	resp.SetStatusCode(fasthttp.StatusAccepted)
	if filters.WantsJSON(ctx) {
		b, _ := json.Marshal(t) // strings and an int: cannot fail
		h.SetContentType("application/json")
		resp.SetBody(append(b, '\n'))
		return
	}
	var b bytes.Buffer
	_ = ticketPage.Execute(&b, t) // a fixed template over plain fields
	h.SetContentType("text/html; charset=utf-8")
	resp.SetBody(b.Bytes())
}

// writeOutcome answers a finished ticket: the shop's status and body as it
// gave them, or the gateway's answer (sold out at the edge, expired, not
// delivered), with X-Order-Outcome saying which.
func writeOutcome(ctx *fasthttp.RequestCtx, st orders.Status) {
	resp := &ctx.Response
	r := st.Result
	resp.Header.Set("X-Order-Outcome", string(r.Outcome))
	resp.SetStatusCode(r.Status)
	if r.Outcome != orders.Delivered && !filters.WantsJSON(ctx) {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(r.Body, &msg) // the gateway's own fixed bodies
		resp.Header.SetContentType("text/html; charset=utf-8")
		var b bytes.Buffer
		_ = outcomePage.Execute(&b, msg.Message)
		resp.SetBody(b.Bytes())
		return
	}
	resp.Header.SetContentType(r.ContentType)
	resp.SetBody(r.Body)
}

var outcomePage = template.Must(template.New("outcome").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your order</title></head>
<body><h1>Your order</h1><p>{{.}}</p></body></html>
`))

// serveOrder answers /_flashgate/orders/{ticket} from the route queues.
func (s *Server) serveOrder(x *Exchange, ticket []byte) {
	queues, reads := s.env.asyncQueues()
	if orders.ValidTicket(ticket) {
		for _, aq := range queues {
			if st, ok := aq.q.Status(string(ticket), x.Now); ok {
				if st.State == orders.Done {
					reads.done.Inc()
				} else {
					reads.pending.Inc()
				}
				writeTicket(x.Ctx, st, x.Now)
				return
			}
		}
	}
	if reads.unknown != nil { // nil until a route had an async section
		reads.unknown.Inc()
	}
	ansNoTicket.write(x.Ctx)
}

var ansNoTicket = newAnswer(fasthttp.StatusNotFound, "unknown_ticket", "Unknown ticket",
	"There is no order under this ticket: it never existed or its outcome was kept long enough and is gone.", "")

// asyncQueues returns the route queues and the ticket read counters.
func (e *Env) asyncQueues() ([]*asyncQueue, ticketReads) {
	e.async.mu.Lock()
	defer e.async.mu.Unlock()
	qs := make([]*asyncQueue, 0, len(e.async.queues))
	for _, aq := range e.async.queues {
		qs = append(qs, aq)
	}
	return qs, e.async.reads
}
