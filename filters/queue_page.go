package filters

import (
	"math"

	"github.com/valyala/fasthttp"
)

// waitProgress is the share of a client's wait already behind it, in
// percent: the time waited against that plus the estimate still to go.
// The place only moves forward and the estimate follows it, so the share
// rises as the line moves and while it stands still (the page's script
// also never shows less than it showed before).
func waitProgress(waited, etaSecs int64) int {
	w := max(waited, 0) / 1e6 // ms
	if w == 0 {
		return 0
	}
	return int(w * 100 / (w + etaSecs*1000))
}

// serveStatus answers /_flashgate/queue/<route>/status with the client's
// place as JSON (always JSON: it is polled by scripts and apps):
//
//	200 {"admitted":false,"position":12,"estimated_wait":30,"wait_text":"less than a minute","progress":40,"length":480}
//	200 {"admitted":false,"lobby":true,"starts_in":40,"position":900,...}  (before the start)
//	200 {"admitted":true,"pass":"…","expires_in":600}   (pass also set as cookie)
//	503 {"error":"queue_full","retry_after":60}
//
// A client not yet in line joins it, so apps can use it to enter the line.
// Polling keeps the place (see waitingRoom).
func (f *queue) serveStatus(env *Env) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
			ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
			return
		}
		r := pageRequest(ctx, env)
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
		ctx.SetContentType("application/json")
		subject, _ := r.Key(f.id)
		if f.validPass(r, subject) {
			ctx.SetBodyString(`{"admitted":true}` + "\n")
			return
		}
		v := f.room.visit(subject, r.Now)
		switch {
		case v.full:
			ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "60")
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString(`{"error":"queue_full","retry_after":60}` + "\n")
		case v.admitted:
			pass := f.issuePass(r, subject, v)
			b := append([]byte(`{"admitted":true,"pass":"`), pass...)
			b = append(appendInt(append(b, `","expires_in":`...), (v.expires-r.Now)/1e9), "}\n"...)
			ctx.SetBody(b)
		default:
			joined := f.keepTicket(r, subject, v.seq)
			eta := f.room.eta(v.position)
			b := []byte(`{"admitted":false,`)
			if v.seq == lobbySeq {
				// Before the start: no order yet; position is the lobby's size.
				b = append(append(b, `"lobby":true,"starts_in":`...), appendInt(nil, secondsCeil(f.room.startsAt()-r.Now))...)
				b = append(b, ',')
			}
			b = append(appendInt(append(b, `"position":`...), int64(v.position)), `,"estimated_wait":`...)
			b = append(appendInt(b, eta), `,"wait_text":"`...)
			b = f.queued.json.phrases.appendWait(b, eta, true)
			b = append(appendInt(append(b, `","progress":`...), int64(waitProgress(r.Now-joined, eta))), `,"length":`...)
			b = append(appendInt(b, int64(f.room.length())), "}\n"...)
			ctx.SetBody(b)
		}
	}
}

// startsAt returns the configured start (unix nanos, 0 = none).
func (q *waitingRoom) startsAt() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cfg.start
}

// eta estimates the seconds until position is admitted: at admit_rate, or,
// with max_active alone, as if every session ran its full length (an upper
// bound: purchases and unclaimed turns free slots sooner).
func (q *waitingRoom) eta(position int) int64 {
	q.mu.Lock()
	cfg := q.cfg
	q.mu.Unlock()
	if cfg.rate > 0 {
		return int64(math.Ceil(float64(position) / (cfg.rate * 1e9)))
	}
	rounds := (position + cfg.maxActive - 1) / cfg.maxActive
	return int64(rounds) * cfg.session / 1e9
}
