package proxy

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// sessionRules: people wait on /item/7 (one at a time), the purchase is a
// POST to /buy/7 that needs the line's pass; a success ends the session.
const sessionRules = `
origins:
  shop: {servers: ["%s"]}
routes:
  - name: item
    methods: [GET]
    path: /item/{id}
    origin: shop
    filters:
      - queue: {group: sale, max_active: 1, key: "cookie:uid"}
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - queue: {group: sale, mode: require, wait_url: /item/7, key: "cookie:uid"}
`

// queuePassOf returns the queue pass a response sets, "" if none.
func queuePassOf(resp *fasthttp.Response) string {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey("fg_queue_pass")
	if !resp.Header.Cookie(c) {
		return ""
	}
	return string(c.Value())
}

// TestQueueSessionIsOneTurn: an admitted client asking for the page again
// without its pass gets the same pass back, not a second one; while one
// purchase of the session is in flight another is refused at the edge; the
// purchase ends the session for every copy of the pass, and frees the one
// max_active slot for the next in line. The shop sees one purchase.
func TestQueueSessionIsOneTurn(t *testing.T) {
	var buys atomic.Int64
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if strings.HasPrefix(string(ctx.Path()), "/buy/") {
			buys.Add(1)
			arrived <- struct{}{}
			<-release
		}
		ctx.SetBodyString("ok")
	})
	g, _ := fileGateway(t, sessionRules, addr)
	as := func(uid, pass string) []string {
		cookie := "uid=" + uid
		if pass != "" {
			cookie += "; fg_queue_pass=" + pass
		}
		return []string{"Cookie", cookie, "Accept", "application/json"}
	}

	first := g.do(t, "GET", "/item/7", nil, as("alice", "")...)
	p1 := queuePassOf(first)
	if first.StatusCode() != 200 || p1 == "" {
		t.Fatalf("alice first in line: %d, pass %q; want admitted with a pass", first.StatusCode(), p1)
	}
	again := g.do(t, "GET", "/item/7", nil, as("alice", "")...)
	if p2 := queuePassOf(again); again.StatusCode() != 200 || p2 != p1 {
		t.Fatalf("alice again without her pass: %d, pass %q; want the same pass %q, not a second one", again.StatusCode(), p2, p1)
	}
	if r := g.do(t, "GET", "/item/7", nil, as("bob", "")...); r.StatusCode() != 503 {
		t.Fatalf("bob while alice's session holds the only slot: %d, want 503 queued", r.StatusCode())
	}

	done := make(chan int)
	go func() {
		done <- g.do(t, "POST", "/buy/7", nil, as("alice", p1)...).StatusCode()
	}()
	<-arrived
	type step struct {
		name, uid, pass, method, path string
		status                        int
		reason                        string
	}
	run := func(steps ...step) {
		for _, s := range steps {
			r := g.do(t, s.method, s.path, nil, as(s.uid, s.pass)...)
			if r.StatusCode() != s.status || !strings.Contains(string(r.Body()), `"error":"`+s.reason+`"`) {
				t.Errorf("%s: %d %s, want %d %s", s.name, r.StatusCode(), r.Body(), s.status, s.reason)
			}
		}
	}
	run(step{"second purchase while the first is in flight", "alice", p1, "POST", "/buy/7", 429, "queue_turn_busy"})
	close(release)
	if st := <-done; st != 200 {
		t.Fatalf("alice's purchase: %d, want the shop's 200", st)
	}
	run(step{"buy again after the purchase ended the session", "alice", p1, "POST", "/buy/7", 403, "queue_required"},
		step{"the page with the pass of the ended session", "alice", p1, "GET", "/item/7", 503, "queued"})
	if r := g.do(t, "GET", "/item/7", nil, as("bob", "")...); r.StatusCode() != 200 || queuePassOf(r) == "" {
		t.Errorf("bob after alice's purchase freed the slot: %d, want admitted", r.StatusCode())
	}
	if n := buys.Load(); n != 1 {
		t.Errorf("the shop saw %d purchases of alice's one turn, want 1", n)
	}
}
