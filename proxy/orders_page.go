package proxy

import (
	"bytes"
	"encoding/json"
	"html/template"
	"strconv"
	"unsafe"

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

// appendTicketJSON appends a pending ticket as ticketJSON does (tickets,
// states and the URL need no escaping).
func appendTicketJSON(b []byte, st orders.Status, url []byte) []byte {
	b = append(b, `{"ticket":"`...)
	b = append(b, st.Ticket...)
	b = append(b, `","state":"`...)
	b = append(b, st.State.String()...)
	b = append(b, '"')
	if st.Place > 0 {
		b = append(b, `,"place":`...)
		b = strconv.AppendInt(b, int64(st.Place), 10)
	}
	b = append(b, `,"status_url":"`...)
	b = append(b, url...)
	return append(b, "\"}\n"...)
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
//
// The JSON answer to a pending ticket (what polling apps read every
// second during a sale) allocates nothing: scratch holds the status URL.
func writeTicket(ctx *fasthttp.RequestCtx, st orders.Status, scratch []byte) []byte {
	resp := &ctx.Response
	resp.Reset()
	h := &resp.Header
	h.SetCanonical(hdrCacheControl, valNoStore)
	h.SetCanonical(hdrOrderTicket, s2b(st.Ticket))
	if st.State == orders.Done {
		writeOutcome(ctx, st)
		return scratch
	}
	scratch = append(append(scratch[:0], ordersPrefix...), st.Ticket...)
	h.SetCanonical(hdrLocation, scratch)
	h.SetCanonical(hdrRetryAfter, valOne)
	resp.SetStatusCode(fasthttp.StatusAccepted)
	if filters.WantsJSON(ctx) {
		h.SetContentType("application/json")
		n := len(scratch)
		scratch = appendTicketJSON(scratch, st, scratch[:n])
		resp.SetBody(scratch[n:])
		return scratch
	}
	t := ticketJSON{Ticket: st.Ticket, State: st.State.String(), Place: st.Place, StatusURL: string(scratch)}
	var b bytes.Buffer
	_ = ticketPage.Execute(&b, t) // a fixed template over plain fields
	h.SetContentType("text/html; charset=utf-8")
	resp.SetBody(b.Bytes())
	return scratch
}

var (
	hdrOrderTicket = []byte("X-Order-Ticket")
	hdrLocation    = []byte("Location")
	hdrRetryAfter  = []byte("Retry-After")
	valNoStore     = []byte("no-store")
	valOne         = []byte("1")
)

// s2b views s as bytes for a fasthttp setter that copies them.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

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
	queues, reads := s.env.asyncList()
	if orders.ValidTicket(ticket) {
		for _, aq := range queues {
			// Status keeps no reference to the ticket it is asked
			// about (orders.Queue), so the request's bytes serve as the
			// key without a copy.
			if st, ok := aq.q.Status(unsafe.String(&ticket[0], len(ticket)), x.Now); ok {
				if st.State == orders.Done {
					reads.done.Inc()
				} else {
					reads.pending.Inc()
				}
				x.scratch = writeTicket(x.Ctx, st, x.scratch)
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

// asyncList returns the route queues and the ticket read counters
// without locking or allocating: the ticket page runs it per poll.
func (e *Env) asyncList() ([]*asyncQueue, ticketReads) {
	l := e.async.list.Load()
	if l == nil {
		return nil, ticketReads{}
	}
	return l.queues, l.reads
}

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
