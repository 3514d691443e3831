package filters

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
	"flashgate/route"
)

// The gateway's pages in headless Chromium, desktop and phone sized, with
// and without JavaScript. Screenshots go to testdata/screenshots (kept by
// CI as artifacts, ignored by git).

// pageRules has one route per page, each refusing the browser.
const pageRules = `
  - name: soon
    path: /soon/{id}
    origin: shop
    pages: {shop: {name: Ember & Oak, color: "#b4471f"}}
    filters: [{window: {start: 2026-11-25T14:30:00Z}}]
  - name: ended
    path: /ended/{id}
    origin: shop
    filters: [{window: {end: 2026-11-25T11:00:00Z}}]
  - name: blocked
    path: /blocked/{id}
    origin: shop
    filters: [{blocklist: {ips: [127.0.0.1]}}]
  - name: slow
    path: /slow/{id}
    origin: shop
    filters: [{ratelimit: {rate: 1/h, burst: 1}}]
  - name: line
    path: /line/{id}
    origin: shop
    filters: [{queue: {admit_rate: 1/10s, group: line}}]
  - name: full
    path: /full/{id}
    origin: shop
    filters: [{queue: {admit_rate: 1/h, max_length: 1}}]
  - name: required
    path: /required/{id}
    origin: shop
    filters: [{queue: {group: line, mode: require, wait_url: /line/1}}]
  - name: ask
    path: /ask/{id}
    origin: shop
    filters: [{quiz: {mode: pow, difficulty: 12, min_solve: 1s}}]
  - name: limit
    path: /limit/{id}
    origin: shop
    filters: [{purchase_limit: {max: 1}}]
  - name: gone
    path: /gone/{id}
    origin: shop
    filters: [{stock: {sold_out: {status: 409}}}]
`

// pageServer serves the routes of pageRules and their gateway pages to
// 127.0.0.1 on a real listener. Each request advances the clock by tick.
type pageServer struct {
	base  string
	sale  *compiledSale
	clock atomic.Int64
	tick  atomic.Int64
	hits  sync32            // requests by path
	jar   map[string]string // cookies of fetch
	// shareJar makes the browser's requests carry fetch's cookies (set
	// before the browser starts; fetch must not run while it does).
	shareJar atomic.Bool
}

type sync32 struct {
	m atomic.Pointer[map[string]*atomic.Int32]
}

func (s *sync32) add(p string) {
	m := *s.m.Load()
	if c := m[p]; c != nil {
		c.Add(1)
	}
}

func (s *sync32) get(p string) int32 { return (*s.m.Load())[p].Load() }

func newPageServer(t *testing.T, routes string, watch ...string) *pageServer {
	t.Helper()
	env := testEnv(t)
	ps := &pageServer{sale: mustSale(t, env, routes), jar: map[string]string{}}
	ps.clock.Store(t0)
	m := map[string]*atomic.Int32{}
	for _, p := range watch {
		m[p] = new(atomic.Int32)
	}
	ps.hits.m.Store(&m)
	env.Now = func() int64 { return ps.clock.Load() }
	var handler fasthttp.RequestHandler
	handler = func(ctx *fasthttp.RequestCtx) {
		if rest, ok := strings.CutPrefix(string(ctx.Path()), "/nojs/"); ok {
			// As a browser without JavaScript shows the page (headless
			// Chromium cannot turn scripts off): no scripts, and the
			// <noscript> parts shown.
			ctx.URI().SetPath("/" + rest)
			handler(ctx)
			ctx.Response.SetBody(noScriptRE.ReplaceAll(ctx.Response.Body(), nil))
			return
		}
		if ps.shareJar.Load() {
			// The browser is the client fetch has been: same cookies.
			for k, v := range ps.jar {
				if len(ctx.Request.Header.Cookie(k)) == 0 {
					ctx.Request.Header.SetCookie(k, v)
				}
			}
		}
		now := ps.clock.Add(ps.tick.Load())
		path := string(ctx.Path())
		ps.hits.add(path)
		r := &Request{Ctx: ctx, ClientIP: netip.MustParseAddr("127.0.0.1"), Now: now}
		if h := ps.sale.pages[path]; h != nil {
			ctx.SetUserValue(PageRequestKey, r)
			h(ctx)
			return
		}
		if path == "/favicon.ico" {
			ctx.SetStatusCode(204)
			return
		}
		if path == "/down" {
			ctx.SetStatusCode(502)
			ctx.SetContentType("text/html; charset=utf-8")
			ctx.SetBody(GatewayPage(502, "Service unavailable", "The shop could not be reached. Please try again in a moment."))
			return
		}
		name, id, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		c := ps.sale.chains[name]
		if c == nil {
			ctx.Error("not found", 404)
			return
		}
		r.Route = name
		r.Params = itemParams(id)
		if v := c.Check(r); v.Rejected() {
			v.Write(ctx)
			return
		}
		c.Observe(r, respond(200, "ok"))
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(`<!doctype html><html lang="en"><title>done</title><p id="ok">` + name + ` ` + string(ctx.FormValue("qty")) + `</p>`)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handler}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })
	ps.base = "http://" + ln.Addr().String()
	return ps
}

// get sends one request as the browser's address would, so that limits
// and lines are taken before the browser comes.
func (ps *pageServer) get(t *testing.T, path string) int {
	t.Helper()
	st, _ := ps.fetch(t, path)
	return st
}

// html is the page as a browser without JavaScript shows it: as served.
// (Headless Chromium's --dump-dom needs scripts, so the no-script runs
// are screenshots and this.)
func (ps *pageServer) html(t *testing.T, path string) string {
	t.Helper()
	_, body := ps.fetch(t, path)
	return body
}

func (ps *pageServer) fetch(t *testing.T, path string) (int, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(ps.base + path)
	req.Header.Set("Accept", browserAccept)
	for k, v := range ps.jar {
		req.Header.SetCookie(k, v)
	}
	if err := fasthttp.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	for k, v := range resp.Header.Cookies() {
		c := fasthttp.AcquireCookie()
		if c.ParseBytes(v) == nil {
			ps.jar[string(k)] = string(c.Value())
		}
		fasthttp.ReleaseCookie(c)
	}
	return resp.StatusCode(), string(resp.Body())
}

var noScriptRE = regexp.MustCompile(`(?s)<script.*?</script>|</?noscript>`)

var (
	desktop = "--window-size=1280,860"
	phone   = "--window-size=390,844"
)

// chromium runs headless Chromium on url and returns its stdout; it
// fails the test on any console message.
func chromium(t *testing.T, url string, flags ...string) string {
	t.Helper()
	out, console := fgtest.Headless(t, url, flags...)
	for _, line := range console {
		t.Errorf("console output on %s: %s", url, line)
	}
	return out
}

func screenshotDir(t *testing.T) string {
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shoot takes a screenshot of url into testdata/screenshots/name.png and
// checks that it holds a page (a blank one compresses to a few KiB).
func shoot(t *testing.T, url, name string, flags ...string) {
	t.Helper()
	abs, _ := filepath.Abs(filepath.Join(screenshotDir(t), name+".png"))
	_ = os.Remove(abs)
	chromium(t, url, append(flags, "--screenshot="+abs)...)
	st, err := os.Stat(abs)
	if err != nil {
		t.Fatalf("no screenshot of %s: %v", url, err)
	}
	if st.Size() < 12<<10 || st.Size() > 3<<20 {
		t.Errorf("screenshot %s is %d bytes: blank or broken", name, st.Size())
	}
}

func TestBrowserPages(t *testing.T) {
	fgtest.Chromium(t)
	if testing.Short() {
		t.Skip("starts Chromium some forty times")
	}
	ps := newPageServer(t, pageRules)
	ps.tick.Store(int64(time.Second))                                   // the question's minimum time passes
	ps.get(t, "/slow/1")                                                // takes the hour's one request
	newClient(200).send(ps.sale.chains["full"], "/full/1", t0)          // admitted
	newClient(201).send(ps.sale.chains["full"], "/full/1", t0)          // takes the line's one place
	ps.get(t, "/line/1")                                                // admitted at once
	ps.get(t, "/limit/1")                                               // bought
	ps.sale.chains["gone"].Observe(soldOutReq(t, ps), respond(409, "")) // the shop said sold out
	ps.jar = map[string]string{}                                        // html below fetches as the browser: without the passes taken above
	// The question pages are shot mid-check (their script would carry on
	// to the shop within the default budget).
	midCheck := map[string]bool{"quiz_required": true, "quiz": true}
	pages := []struct{ name, path, want string }{
		{"not_started", "/soon/1", "The sale has not started yet"},
		{"sale_ended", "/ended/1", "This sale has ended"},
		{"blocked", "/blocked/1", "Access denied"},
		{"rate_limited", "/slow/1", "Too many requests"},
		{"queue_full", "/full/1", "The line is full"},
		{"queue_required", "/required/1", "Go to the sale page"},
		{"quiz_required", "/ask/1", "Answer a short question"},
		{"quiz", "/_flashgate/quiz/ask?return=/ask/1", "What is "}, // pow: the question asked without JavaScript
		{"purchase_limit", "/limit/1", "Purchase limit reached"},
		{"sold_out", "/gone/1", "Sold out"},
		{"origin_down", "/down", "Service unavailable"},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			var budget []string
			if midCheck[p.name] {
				budget = []string{"--virtual-time-budget=300"}
			}
			shoot(t, ps.base+p.path, p.name+"-desktop", append(budget, desktop)...)
			shoot(t, ps.base+p.path, p.name+"-phone", append(budget, phone)...)
			shoot(t, ps.base+"/nojs"+p.path, p.name+"-phone-nojs", phone)
			if dom := ps.html(t, p.path); !strings.Contains(dom, p.want) {
				t.Errorf("without JavaScript the page lacks %q:\n%s", p.want, dom)
			}
		})
	}
}

func soldOutReq(_ *testing.T, _ *pageServer) *Request {
	ctx := &fasthttp.RequestCtx{}
	return &Request{Ctx: ctx, Route: "gone", ClientIP: netip.MustParseAddr("127.0.0.1"), Now: t0,
		Params: itemParams("1")}
}

var (
	posRE  = regexp.MustCompile(`id="fg-pos">(\d+)<`)
	waitRE = regexp.MustCompile(`id="fg-wait">([^<]+)<`)
	fillRE = regexp.MustCompile(`id="fg-fill" style="width: ?(\d+)%`)
)

// TestBrowserWaitingRoomMoves: as the line moves, the page shows a smaller
// place, a shorter wait and more progress, with and without JavaScript.
func TestBrowserWaitingRoomMoves(t *testing.T) {
	fgtest.Chromium(t)
	ps := newPageServer(t, pageRules)
	// 40 people ahead, one admitted every 10 s: a wait of minutes.
	for i := range 41 {
		newClient(100+i).send(ps.sale.chains["line"], "/line/1", t0)
	}
	read := func(dom string) (pos, fill int, wait string) {
		m, w, f := posRE.FindStringSubmatch(dom), waitRE.FindStringSubmatch(dom), fillRE.FindStringSubmatch(dom)
		if m == nil || w == nil || f == nil {
			t.Fatalf("no place, wait or progress in:\n%s", dom)
		}
		return atoi(m[1]), atoi(f[1]), w[1]
	}
	pos1, fill1, wait1 := read(ps.html(t, "/line/1"))
	ps.clock.Add(int64(150 * time.Second)) // 15 admitted
	pos2, fill2, wait2 := read(ps.html(t, "/line/1"))
	// The pages as this client sees them now, in the browser.
	ps.shareJar.Store(true)
	shoot(t, ps.base+"/nojs/line/1", "queued-desktop", desktop)
	shoot(t, ps.base+"/nojs/line/1", "queued-phone", phone)
	shoot(t, ps.base+"/line/1", "queued-phone-js", phone, "--virtual-time-budget=1000")
	ps.shareJar.Store(false)
	t.Logf("without JavaScript: place %d → %d, wait %q → %q, progress %d%% → %d%%", pos1, pos2, wait1, wait2, fill1, fill2)
	if pos2 >= pos1 || fill2 <= fill1 || wait1 == wait2 {
		t.Errorf("the page did not move with the line")
	}
	// With JavaScript, the page polls; each request moves the clock 10 s.
	// Chromium's fresh profile has no ticket: it is served 0% first, and
	// then follows the line by polling.
	ps.tick.Store(int64(10 * time.Second))
	pos3, fill3, wait3 := read(chromium(t, ps.base+"/line/1", "--dump-dom"))
	t.Logf("with JavaScript after polling: place %d, wait %q, progress %d%%", pos3, wait3, fill3)
	if pos3 >= pos2-1 || fill3 == 0 || wait3 == wait2 {
		t.Errorf("polling did not update the page: place %d, progress %d%%", pos3, fill3)
	}
}

// itemParams returns the route parameters of /buy/<id>: {id}.
func itemParams(id string) *route.Params {
	ps := &route.Params{}
	buyTable.Match([]byte("example.com"), []byte("GET"), []byte("/buy/"+id), ps)
	return ps
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestBrowserQuizBuysWithoutExtraClick: a buy (a form POST) without a
// pass gets the check; the check solves itself and posts the same form
// again, so the purchase arrives with its quantity and nobody clicks.
func TestBrowserQuizBuysWithoutExtraClick(t *testing.T) {
	fgtest.Chromium(t)
	ps := newPageServer(t, pageRules, "/ask/7", "/_flashgate/quiz/ask")
	ps.tick.Store(int64(time.Second))
	start := filepath.Join(t.TempDir(), "item.html")
	// The item page's buy button, pressed by a script (headless Chromium cannot click).
	item := `<!doctype html><title>item</title><form method="post" action="` + ps.base + `/ask/7"><input name="qty" value="2"></form><script>document.forms[0].submit()</script>`
	if err := os.WriteFile(start, []byte(item), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := chromium(t, "file://"+start, "--dump-dom")
	if !strings.Contains(dom, `<p id="ok">ask 2</p>`) {
		t.Fatalf("the purchase did not go through by itself:\n%s", dom)
	}
	if n := ps.hits.get("/ask/7"); n != 2 {
		t.Errorf("the buy was posted %d times, want 2 (refused, then again after the check)", n)
	}
}

// TestBrowserFinalAnswerBeforeQuestion: a buyer at the limit is told so,
// and the question page is never asked for.
func TestBrowserFinalAnswerBeforeQuestion(t *testing.T) {
	fgtest.Chromium(t)
	ps := newPageServer(t, `
  - name: buy
    path: /buy/{id}
    origin: shop
    filters:
      - quiz: {mode: pow, difficulty: 10, min_solve: 1s}
      - purchase_limit: {max: 1}
      - stock: {stock: {"7": 1, "8": 1}, sold_out: {status: 409}}
`, "/_flashgate/quiz/buy")
	ps.sale.chains["buy"].filters[1].(*purchaseLimit).store.Add(
		ps.sale.chains["buy"].filters[1].(*purchaseLimit).key(soldOutReqFor(t, "/x/7")), 1, int64(time.Hour), t0)
	ps.sale.chains["buy"].Observe(soldOutReqFor(t, "/x/8"), respond(409, ""))
	for path, want := range map[string]string{"/buy/7": "Purchase limit reached", "/buy/8": "Sold out"} {
		dom := chromium(t, ps.base+path, "--dump-dom")
		if !strings.Contains(dom, want) {
			t.Errorf("%s: want %q:\n%s", path, want, dom)
		}
	}
	if n := ps.hits.get("/_flashgate/quiz/buy"); n != 0 {
		t.Errorf("the question page was asked for %d times", n)
	}
}

func soldOutReqFor(_ *testing.T, path string) *Request {
	return &Request{Ctx: &fasthttp.RequestCtx{}, ClientIP: netip.MustParseAddr("127.0.0.1"), Now: t0,
		Params: itemParams(strings.TrimPrefix(path, "/x/"))}
}
