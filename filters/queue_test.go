package filters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/token"
)

func mustQueue(t testing.TB, env *Env, yaml string) *queue {
	t.Helper()
	f, err := buildOne(t, env, yaml, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return f.(*queue)
}

// client is a browser: an address and a cookie jar.
type client struct {
	ip      string
	cookies map[string]string
}

func newClient(i int) *client {
	return &client{ip: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), cookies: map[string]string{}}
}

// visit sends one request to /buy/42 through f at now, keeping cookies.
func (c *client) visit(f Filter, now int64, opts ...reqOpt) (Verdict, *Request) {
	opts = append([]reqOpt{withIP(c.ip), at(now)}, opts...)
	for k, v := range c.cookies {
		opts = append(opts, withCookie(k, v))
	}
	v, r := verdictOf(&Chain{filters: []Filter{f}}, "/buy/42", opts...)
	c.keep(&r.Ctx.Response)
	return v, r
}

func (c *client) keep(resp *fasthttp.Response) {
	resp.Header.VisitAllCookie(func(k, v []byte) {
		ck := fasthttp.AcquireCookie()
		defer fasthttp.ReleaseCookie(ck)
		if ck.ParseBytes(v) == nil {
			c.cookies[string(k)] = string(ck.Value())
		}
	})
}

func TestQueueAdmitsAtRate(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {admit_rate: 1/s}\n")
	a, b := newClient(1), newClient(2)
	if v, _ := a.visit(f, t0); reason(v) != "pass" || a.cookies[queuePassCookie] == "" {
		t.Fatalf("first client in an empty line: %s, cookies %v", reason(v), a.cookies)
	}
	if v, _ := a.visit(f, t0+sec/2); reason(v) != "pass" {
		t.Fatalf("first client with its pass: %s", reason(v))
	}
	v, r := b.visit(f, t0+sec/2)
	if reason(v) != "queued" || v.Value() != 1 || r.Ctx.Response.StatusCode() != 503 {
		t.Fatalf("second client: %s position %d status %d", reason(v), v.Value(), r.Ctx.Response.StatusCode())
	}
	body := string(r.Ctx.Response.Body())
	for _, want := range []string{`<strong id="fg-pos">1</strong>`, `http-equiv="refresh"`, `/_flashgate/queue/buy/status`} {
		if !strings.Contains(body, want) {
			t.Fatalf("waiting page lacks %q:\n%s", want, body)
		}
	}
	if string(r.Ctx.Response.Header.Peek("Retry-After")) != "5" || string(r.Ctx.Response.Header.Peek("Refresh")) != "20" {
		t.Fatalf("Retry-After %q Refresh %q", r.Ctx.Response.Header.Peek("Retry-After"), r.Ctx.Response.Header.Peek("Refresh"))
	}
	if b.cookies[queueTicketCookie] == "" {
		t.Fatal("no ticket cookie")
	}
	if v, _ := b.visit(f, t0+sec+sec/2); reason(v) != "pass" {
		t.Fatalf("second client one second later: %s", reason(v))
	}
}

func TestQueueBypassAttempts(t *testing.T) {
	env := testEnv(t)
	f := mustQueue(t, env, "- queue: {max_active: 1, session: 1m}\n")
	holder := newClient(1)
	if v, _ := holder.visit(f, t0); reason(v) != "pass" {
		t.Fatalf("holder: %s", reason(v))
	}
	pass := holder.cookies[queuePassCookie]
	kr := testKeyring(t)
	mine := f.id.ipKey(netip.MustParseAddr(newClient(2).ip))
	sign := func(c token.Claims) string { c.RandomNonce(); return string(kr.Sign(nil, &c)) }
	tamper := func(s string) string { b := []byte(s); b[30] ^= 1; return string(b) }
	tests := []struct {
		name   string
		cookie string
		header string
		at     int64
	}{
		{"no pass", "", "", t0},
		{"borrowed pass cookie", pass, "", t0},
		{"borrowed pass header", "", pass, t0},
		{"tampered pass", tamper(pass), "", t0},
		{"forged pass", strings.Repeat("A", token.EncodedLen), "", t0},
		{"pass of another queue", sign(token.Claims{Kind: token.KindQueuePass, Scope: f.prefix + 1, Subject: mine, IssuedAt: t0, ExpiresAt: t0 + 60*sec}), "", t0},
		{"ticket as pass", sign(token.Claims{Kind: token.KindQueueTicket, Scope: f.prefix, Subject: mine, IssuedAt: t0, ExpiresAt: t0 + 60*sec}), "", t0},
		{"quiz pass as pass", sign(token.Claims{Kind: token.KindQuizPass, Scope: f.prefix, Subject: mine, IssuedAt: t0, ExpiresAt: t0 + 60*sec}), "", t0},
		{"expired own pass", sign(token.Claims{Kind: token.KindQueuePass, Scope: f.prefix, Subject: mine, IssuedAt: t0 - 120*sec, ExpiresAt: t0 - 10*sec}), "", t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(2)
			var opts []reqOpt
			if tt.cookie != "" {
				c.cookies[queuePassCookie] = tt.cookie
			}
			if tt.header != "" {
				opts = append(opts, withHeader(queuePassHeader, tt.header))
			}
			if v, _ := c.visit(f, tt.at, opts...); reason(v) != "queued" {
				t.Fatalf("verdict %s, want queued", reason(v))
			}
		})
	}
	// The holder's own pass within clock leeway of its expiry still works.
	if v, _ := holder.visit(f, t0+60*sec+4*sec); reason(v) != "pass" {
		t.Fatalf("holder within leeway: %s", reason(v))
	}
}

func TestQueueCopiedTicketGivesNoPlace(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1}\n")
	first, early, late := newClient(1), newClient(2), newClient(3)
	first.visit(f, t0)
	early.visit(f, t0+sec) // position 1
	late.cookies[queueTicketCookie] = early.cookies[queueTicketCookie]
	if v, _ := late.visit(f, t0+2*sec); v.Value() != 2 {
		t.Fatalf("copied ticket: position %d, want 2 (its own place at the back)", v.Value())
	}
	if v, _ := early.visit(f, t0+3*sec); v.Value() != 1 {
		t.Fatalf("the ticket's owner: position %d, want 1", v.Value())
	}
}

func TestQueueOnePlacePerIdentity(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1}\n")
	newClient(1).visit(f, t0)
	tab1, tab2 := newClient(2), newClient(2) // same client, two cookie jars
	v1, _ := tab1.visit(f, t0+sec)
	newClient(3).visit(f, t0+2*sec)
	v2, _ := tab2.visit(f, t0+3*sec)
	if v1.Value() != 1 || v2.Value() != 1 {
		t.Fatalf("positions %d and %d, want the same place 1", v1.Value(), v2.Value())
	}
}

func TestQueueRevokeOnPurchase(t *testing.T) {
	env := testEnv(t)
	f := mustQueue(t, env, "- queue: {max_active: 1, revoke_on: [200]}\n")
	buyer, next := newClient(1), newClient(2)
	buyer.visit(f, t0)
	if v, _ := next.visit(f, t0+sec); reason(v) != "queued" {
		t.Fatalf("next: %s", reason(v))
	}
	_, r := buyer.visit(f, t0+2*sec)
	f.Observe(r, respond(200, "bought"))
	if v, _ := buyer.visit(f, t0+3*sec); reason(v) != "queued" {
		t.Fatalf("buyer after the purchase: %s, want queued", reason(v))
	}
	if v, _ := next.visit(f, t0+3*sec); reason(v) != "pass" {
		t.Fatalf("next after the buyer's session ended: %s", reason(v))
	}
	// A failed purchase (409) does not end the session.
	_, r = next.visit(f, t0+4*sec)
	f.Observe(r, respond(409, "sold out"))
	if v, _ := next.visit(f, t0+5*sec); reason(v) != "pass" {
		t.Fatalf("after a 409: %s", reason(v))
	}
}

// TestQueueLobbyShuffle: arrivals before the start get places in random
// order at the start; later arrivals queue behind them, first come first
// served.
func TestQueueLobbyShuffle(t *testing.T) {
	start := time.Unix(0, t0).Add(time.Minute).UTC().Format(time.RFC3339)
	f := mustQueue(t, testEnv(t), "- queue: {admit_rate: 1000/s, max_active: 1, start: "+start+"}\n")
	const early = 200
	clients := make([]*client, early+2)
	for i := range clients {
		clients[i] = newClient(i + 1)
	}
	for i := range early {
		if v, _ := clients[i].visit(f, t0+int64(i)*ms()); reason(v) != "queued" {
			t.Fatalf("early arrival %d: %s", i, reason(v))
		}
	}
	st := t0 + 60*sec
	positions := map[int64]bool{}
	inOrder := 0
	for i := range early {
		v, _ := clients[i].visit(f, st+sec)
		if v.Rejected() {
			positions[v.Value()] = true
			if v.Value() == int64(i) { // i-th arrival, 0-based, behind the one admitted
				inOrder++
			}
		}
	}
	if len(positions) != early-1 {
		t.Fatalf("%d distinct positions among %d early arrivals (one admitted)", len(positions), early)
	}
	if inOrder > early/4 {
		t.Fatalf("%d of %d early arrivals kept their arrival order: not shuffled", inOrder, early)
	}
	a, _ := clients[early].visit(f, st+2*sec)
	b, _ := clients[early+1].visit(f, st+3*sec)
	if a.Value() != early || b.Value() != early+1 {
		t.Fatalf("later arrivals at %d and %d, want %d and %d (behind the lobby, in order)", a.Value(), b.Value(), early, early+1)
	}
}

func ms() int64 { return int64(time.Millisecond) }

// TestQueueAbandonedPlacesDoNotStall: clients who stop polling lose their
// place after hold, and the line moves past them without spending
// admissions on them; those who poll keep their place.
func TestQueueAbandonedPlacesDoNotStall(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {admit_rate: 1/m, hold: 5m}\n")
	clients := make([]*client, 11)
	for i := range clients {
		clients[i] = newClient(i + 1)
		clients[i].visit(f, t0) // client 0 admitted at once; 1..10 wait
	}
	// Odd clients poll every 4 minutes; even ones leave.
	now := t0
	for now < t0+int64(4*time.Minute)*3 {
		now += int64(4 * time.Minute)
		for i := 1; i < len(clients); i += 2 {
			clients[i].visit(f, now)
		}
	}
	// 12 minutes, one admission a minute: all 5 pollers admitted even though
	// 5 abandoned places were ahead of some of them.
	admitted := 0
	for i := 1; i < len(clients); i += 2 {
		if v, _ := clients[i].visit(f, now+sec); reason(v) == "pass" {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("%d of 5 polling clients admitted after 12 minutes at 1/min", admitted)
	}
	// A client back after abandoning joins at the back; the line is empty
	// and the rate has credit, so that is also the front.
	if v, _ := clients[2].visit(f, now+sec); reason(v) != "pass" {
		t.Fatalf("a client back after abandoning: %s at %d, want admitted from an empty line", reason(v), v.Value())
	}
}

func TestQueueHoldsPlaceFiveMinutes(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1}\n")
	newClient(1).visit(f, t0)
	c := newClient(2)
	c.visit(f, t0)
	for _, dt := range []time.Duration{4 * time.Minute, 9 * time.Minute, 14*time.Minute + 59*time.Second} {
		newClient(int(dt)).visit(f, t0+int64(dt)) // traffic that advances the line
		if v, _ := c.visit(f, t0+int64(dt)); v.Value() != 1 {
			t.Fatalf("after %v: position %d, want 1", dt, v.Value())
		}
	}
}

func TestQueueFull(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1, max_length: 2}\n")
	newClient(1).visit(f, t0)
	newClient(2).visit(f, t0)
	newClient(3).visit(f, t0)
	v, r := newClient(4).visit(f, t0, jsonAccept)
	if reason(v) != "queue_full" || r.Ctx.Response.StatusCode() != 503 || string(r.Ctx.Response.Header.Peek("Retry-After")) != "60" {
		t.Fatalf("fourth client: %s %d Retry-After %q", reason(v), r.Ctx.Response.StatusCode(), r.Ctx.Response.Header.Peek("Retry-After"))
	}
	if !bytes.Contains(r.Ctx.Response.Body(), []byte(`"error":"queue_full"`)) {
		t.Fatalf("JSON: %s", r.Ctx.Response.Body())
	}
}

func TestQueueUnclaimedTurnPasses(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1, session: 10m, claim: 1m}\n")
	newClient(1).visit(f, t0) // active
	gone, next := newClient(2), newClient(3)
	for _, m := range []time.Duration{0, 4 * time.Minute, 8 * time.Minute} {
		gone.visit(f, t0+int64(m))
		next.visit(f, t0+int64(m))
	}
	// Client 1's session ends at 10m; client 2 is admitted but never comes back.
	if v, _ := next.visit(f, t0+int64(10*time.Minute)+sec); v.Value() != 1 {
		t.Fatalf("next at 10m: position %d", v.Value())
	}
	if v, _ := next.visit(f, t0+int64(11*time.Minute)+2*sec); reason(v) != "pass" {
		t.Fatalf("next after the unclaimed turn lapsed: %s", reason(v))
	}
	if v, _ := gone.visit(f, t0+int64(12*time.Minute)); reason(v) != "queued" {
		t.Fatalf("the absent client after its claim window: %s", reason(v))
	}
}

// TestQueueRate drives 400 polling clients for 20 s at admit_rate 10/s.
func TestQueueRate(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {admit_rate: 10/s}\n")
	clients := make([]*client, 400)
	for i := range clients {
		clients[i] = newClient(i + 1)
	}
	var admittedAt []int64
	in := make([]bool, len(clients))
	for now := t0; now < t0+20*sec; now += 50 * ms() {
		for i, c := range clients {
			if in[i] || (now-t0)/(50*ms())%10 != int64(i%10) { // each polls every 500ms
				continue
			}
			if v, _ := c.visit(f, now); !v.Rejected() {
				in[i] = true
				admittedAt = append(admittedAt, now)
			}
		}
	}
	if n := len(admittedAt); n < 195 || n > 211 {
		t.Fatalf("%d admitted in 20s at 10/s", n)
	}
	for i := range admittedAt {
		j := i
		for j < len(admittedAt) && admittedAt[j]-admittedAt[i] < sec {
			j++
		}
		if j-i > 20 {
			t.Fatalf("%d admitted within one second from %v", j-i, time.Duration(admittedAt[i]-t0))
		}
	}
}

func TestQueueStatus(t *testing.T) {
	env := testEnv(t)
	f := mustQueue(t, env, "- queue: {admit_rate: 1/s}\n")
	page := f.serveStatus(env)
	a, b := newClient(1), newClient(2)
	a.visit(f, t0)
	b.visit(f, t0)
	get := func(c *client, now int64) map[string]any {
		opts := []reqOpt{withIP(c.ip), at(now)}
		for k, v := range c.cookies {
			opts = append(opts, withCookie(k, v))
		}
		ctx := callPage(page, "GET", f.status, "", opts...)
		c.keep(&ctx.Response)
		var m map[string]any
		if err := json.Unmarshal(ctx.Response.Body(), &m); err != nil {
			t.Fatalf("status is not JSON: %s", ctx.Response.Body())
		}
		return m
	}
	if m := get(b, t0+sec/2); m["admitted"] != false || m["position"] != 1.0 || m["estimated_wait"] != 1.0 {
		t.Fatalf("waiting status %v", m)
	}
	m := get(b, t0+sec+sec/2)
	if m["admitted"] != true || m["pass"] == "" || b.cookies[queuePassCookie] == "" {
		t.Fatalf("admitted status %v, cookies %v", m, b.cookies)
	}
	if v, _ := b.visit(f, t0+2*sec); reason(v) != "pass" {
		t.Fatalf("after the status poll admitted it: %s", reason(v))
	}
}

func TestQueueSurvivesUnrelatedReload(t *testing.T) {
	env := testEnv(t)
	f := mustQueue(t, env, "- queue: {max_active: 1}\n")
	newClient(1).visit(f, t0)
	c := newClient(2)
	c.visit(f, t0)
	g := mustQueue(t, env, "- queue: {max_active: 1, session: 20m, max_length: 500}\n")
	if v, _ := c.visit(g, t0+sec); reason(v) != "queued" || v.Value() != 1 {
		t.Fatalf("after a reload that retuned the queue: %s at %d, want queued at 1", reason(v), v.Value())
	}
	if v, _ := newClient(3).visit(g, t0+sec); v.Value() != 2 {
		t.Fatalf("a new arrival after the reload: position %d, want 2", v.Value())
	}
}

func TestQueueCompileErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"- queue: {}\n", "set admit_rate (like 50/s), max_active, or both"},
		{"- queue: {max_active: 1, hold: 1m}\n", "must be at least 5m0s"},
		{"- queue: {max_active: 1, max_length: -1}\n", "must be within 1..10000000, got -1"},
		{"- queue: {max_active: 1, claim: 20m}\n", "must not exceed session (10m0s)"},
		{"- queue: {max_active: 1, revoke_on: [42]}\n", "status 42 is not an HTTP status"},
		{"- queue: {max_active: 1, start: tomorrow}\n", "start"},
	}
	for _, tt := range tests {
		_, err := buildOne(t, testEnv(t), tt.yaml, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", strings.TrimSpace(tt.yaml), err, tt.want)
		}
	}
}

// TestQueueConcurrentArrivals: 64 clients arriving at once each get their
// own place, and the places are 1..63 behind the one admitted.
func TestQueueConcurrentArrivals(t *testing.T) {
	f := mustQueue(t, testEnv(t), "- queue: {max_active: 1}\n")
	positions := make([]int64, 64)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range positions {
		c := newClient(i + 1)
		r := newReq("/buy/42", withIP(c.ip), at(t0))
		wg.Go(func() {
			<-start
			positions[i] = f.Check(r).Value()
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(positions)
	for i, p := range positions {
		if p != int64(i) {
			t.Fatalf("positions %v: want 0 (admitted) then 1..63", positions)
		}
	}
}
