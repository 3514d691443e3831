package filters

import (
	"math"
	"strconv"

	"github.com/valyala/fasthttp"
)

// queueExtra is the waiting page's live part, added to the "queued"
// rejection: the position ({{value}}), a meta refresh that lets the client
// in without JavaScript, and a script that polls the status endpoint every
// queuePoll seconds and reloads (as a GET) the moment the client is
// admitted, so nobody has to press reload.
func queueExtra(statusPath string) string {
	return `<meta http-equiv="refresh" content="` + strconv.Itoa(queueRefresh) + `">
<p>Your place in line: <strong id="fg-pos">{{value}}</strong></p>
<p id="fg-eta" aria-live="polite"></p>
<script>
(function(){
var pos=document.getElementById("fg-pos"),eta=document.getElementById("fg-eta");
function wait(s){return s<60?s+" seconds":"about "+Math.ceil(s/60)+" minutes";}
function poll(){
 fetch("` + statusPath + `",{credentials:"same-origin",cache:"no-store",headers:{Accept:"application/json"}})
 .then(function(r){return r.json();})
 .then(function(s){
  if(s.admitted){location.replace(location.href);return;}
  if(s.position){pos.textContent=s.position;}
  if(s.estimated_wait>=0){eta.textContent="Estimated wait: "+wait(s.estimated_wait)+".";}
  setTimeout(poll,` + strconv.Itoa(queuePoll*1000) + `);
 })
 .catch(function(){setTimeout(poll,` + strconv.Itoa(queuePoll*1000) + `);});
}
setTimeout(poll,` + strconv.Itoa(queuePoll*1000) + `);
})();
</script>`
}

// serveStatus answers /_flashgate/queue/<route>/status with the client's
// place as JSON (always JSON: it is polled by scripts and apps):
//
//	200 {"admitted":false,"position":12,"estimated_wait":3,"length":480}
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
			f.keepTicket(r, subject, v.seq)
			b := []byte(`{"admitted":false,`)
			if v.seq == lobbySeq {
				// Before the start: no order yet; position is the lobby's size.
				b = append(append(b, `"lobby":true,"starts_in":`...), appendInt(nil, secondsCeil(f.room.startsAt()-r.Now))...)
				b = append(b, ',')
			}
			b = append(appendInt(append(b, `"position":`...), int64(v.position)), `,"estimated_wait":`...)
			b = append(appendInt(b, f.room.eta(v.position)), `,"length":`...)
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
