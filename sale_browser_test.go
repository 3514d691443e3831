package flashgate_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/internal/fgtest"
	"flashgate/proxy"
	"flashgate/rules"
)

// The shipped Singles' Day sale (sales/singles-day.yaml) through the real
// gateway (gateway.yaml, proxy.New) in front of the demo shop: a buyer in
// headless Chromium waits on the item page, is let in by the waiting page
// itself, answers the quiz and buys with the shop's own buy form (a POST);
// and over plain HTTP, every way of posting to /buy/7 without having
// waited and answered fails at the edge.

// saleGateway is the gateway serving a test copy of the shipped rules.
type saleGateway struct {
	base   string       // http://127.0.0.1:port
	offset atomic.Int64 // added to the real clock: the test skips waits
	buys   atomic.Int32 // POST /buy/<item 7, however spelt> that reached the shop
	sold   atomic.Int32 // ... and were answered 200
	events chan string  // what the browser driver page reports
}

func (g *saleGateway) now() time.Time { return time.Now().Add(time.Duration(g.offset.Load())) }

// skip moves the gateway's clock forward, e.g. past a quiz's min_solve.
func (g *saleGateway) skip(d time.Duration) { g.offset.Add(int64(d)) }

// startSale copies gateway.yaml and sales/singles-day.yaml as shipped,
// edited only by the replacements in edits (each must match exactly once,
// so a change of the sale file shows here), plus a driver origin and route
// for the browser test; points the shop origins at a demo shop of its own;
// trusts 127.0.0.1 so that plain clients can be told apart by
// X-Forwarded-For; and serves it all on 127.0.0.1:0.
func startSale(t *testing.T, edits ...string) *saleGateway {
	t.Helper()
	g := &saleGateway{events: make(chan string, 256)}
	shop := demo.New(demo.Options{})
	shopAddr := serveFast(t, func(ctx *fasthttp.RequestCtx) {
		shop.Handler()(ctx)
		// Every buy in these tests is for item 7, which the shop also reads
		// from /buy/007: count any spelling that gets through.
		if ctx.IsPost() && strings.HasPrefix(string(ctx.Path()), "/buy/") {
			g.buys.Add(1)
			if ctx.Response.StatusCode() == 200 {
				g.sold.Add(1)
			}
		}
	})
	driverAddr := serveFast(t, g.serveDriver)

	dir := t.TempDir()
	copyFile(t, "gateway.yaml", filepath.Join(dir, "gateway.yaml"), nil)
	sale := "origins:\n  driver:\n    servers: [\"" + driverAddr + "\"]\n\n" +
		copyText(t, filepath.Join("sales", "singles-day.yaml"), edits) +
		"\n  - name: test-driver\n    methods: [GET]\n    path: /test/{page}\n    origin: driver\n"
	if err := os.MkdirAll(filepath.Join(dir, "sales"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "", filepath.Join(dir, "sales", "singles-day.yaml"), []byte(sale))

	path := filepath.Join(dir, "gateway.yaml")
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatalf("test copy of the rules: %v", err)
	}
	for _, o := range cfg.Origins {
		if o.Name == "shop" || o.Name == "static" {
			o.Servers = []string{shopAddr}
		}
	}
	cfg.Server.TrustedProxies = append(cfg.Server.TrustedProxies, netip.MustParsePrefix("127.0.0.1/32"))
	srv, err := proxy.New(proxy.Options{ConfigPath: path, Config: cfg, Now: g.now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	g.base = "http://" + ln.Addr().String()
	return g
}

func serveFast(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

// copyText returns the file at src with each "old=>new" edit applied once.
func copyText(t *testing.T, src string, edits []string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, e := range edits {
		old, repl, _ := strings.Cut(e, "=>")
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once (the test copies the shipped sale with this edit)", src, old, n)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return s
}

func copyFile(t *testing.T, src, dst string, body []byte) {
	t.Helper()
	if body == nil {
		body = []byte(copyText(t, src, nil))
	}
	if err := os.WriteFile(dst, body, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shopper is a plain HTTP client with its own address (X-Forwarded-For
// from the trusted local peer), a signed-in user and a cookie jar.
type shopper struct {
	g       *saleGateway
	ip, uid string
	cookies map[string]string
}

func (g *saleGateway) shopper(ip, uid string) *shopper {
	return &shopper{g: g, ip: ip, uid: uid, cookies: map[string]string{"uid": uid}}
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends one request as JSON client and keeps the cookies it is given.
func (s *shopper) do(t *testing.T, method, path string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.g.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", s.ip)
	for k, v := range s.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		s.cookies[c.Name] = c.Value
	}
	return resp, b
}

// earnQuizPass answers the sale's proof-of-work quiz as an app does (the
// JSON variant), skipping the gateway's clock past min_solve.
func (s *shopper) earnQuizPass(t *testing.T) string {
	t.Helper()
	resp, b := s.do(t, "GET", "/_flashgate/quiz/singles-day?return=/item/7", nil)
	var ch struct {
		Mode, Challenge string
		Difficulty      int
		AnswerURL       string `json:"answer_url"`
		MinSolveMS      int64  `json:"min_solve_ms"`
	}
	if err := json.Unmarshal(b, &ch); err != nil || resp.StatusCode != 200 || ch.Mode != "pow" {
		t.Fatalf("quiz challenge: %d %s (%v)", resp.StatusCode, b, err)
	}
	s.g.skip(time.Duration(ch.MinSolveMS+1000) * time.Millisecond)
	resp, b = s.do(t, "POST", ch.AnswerURL, url.Values{"challenge": {ch.Challenge},
		"answer": {solvePow(ch.Challenge, ch.Difficulty)}, "return": {"/item/7"}})
	var pass struct{ Pass string }
	if err := json.Unmarshal(b, &pass); err != nil || resp.StatusCode != 200 || pass.Pass == "" {
		t.Fatalf("quiz answer: %d %s (%v)", resp.StatusCode, b, err)
	}
	return pass.Pass
}

// solvePow finds n with SHA-256(challenge ":" n) starting with difficulty
// zero bits, as the quiz page's script does.
func solvePow(challenge string, difficulty int) string {
	for n := 0; ; n++ {
		a := strconv.Itoa(n)
		sum := sha256.Sum256([]byte(challenge + ":" + a))
		zeros := 0
		for _, c := range sum {
			zeros += bits.LeadingZeros8(c)
			if c != 0 {
				break
			}
		}
		if zeros >= difficulty {
			return a
		}
	}
}

// refusal is a JSON rejection of the gateway.
type refusal struct {
	Error, Filter, WaitURL, QuizURL string
}

// buy posts the buy form of item 7 and returns the status and the
// gateway's refusal, if it refused.
func (s *shopper) buy(t *testing.T) (int, refusal) {
	t.Helper()
	return s.buyAt(t, "/buy/7")
}

// buyAt posts the buy form to path, e.g. another spelling of /buy/7.
func (s *shopper) buyAt(t *testing.T, path string) (int, refusal) {
	t.Helper()
	resp, b := s.do(t, "POST", path, url.Values{"qty": {"1"}})
	var r refusal
	if resp.Header.Get("X-Flashgate-Filter") != "" {
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("refusal is not JSON: %s", b)
		}
		r.Error, _ = raw["error"].(string)
		r.Filter, _ = raw["filter"].(string)
		r.WaitURL, _ = raw["wait_url"].(string)
		r.QuizURL, _ = raw["quiz_url"].(string)
	}
	return resp.StatusCode, r
}

// waitInLineEdits make the test copy admit one buyer at a time, so that
// whoever comes second waits until the first one's purchase ends its
// session (revoke_on), whatever the timing.
var waitInLineEdits = []string{"max_active: 500=>max_active: 1"}

// TestSaleBypassAttempts: posting to the purchase URL without the line's
// pass, with a borrowed pass, or with a replayed quiz pass fails at the
// edge, and none of it reaches the shop.
func TestSaleBypassAttempts(t *testing.T) {
	g := startSale(t, waitInLineEdits...)
	d := g.shopper("198.51.100.4", "dana")
	if resp, _ := d.do(t, "GET", "/item/7", nil); resp.StatusCode != 200 || d.cookies["fg_queue_pass"] == "" {
		t.Fatalf("first on the item page: %d, cookies %v; want the page and a queue pass", resp.StatusCode, d.cookies)
	}
	dQuiz := d.earnQuizPass(t)

	bot := g.shopper("198.51.100.66", "bot")
	if st, r := bot.buy(t); st != 403 || r.Error != "quiz_required" || r.QuizURL != "/_flashgate/quiz/singles-day?return=%2Fitem%2F7" {
		t.Errorf("POST /buy/7 with nothing: %d %+v, want 403 quiz_required linking the quiz", st, r)
	}
	b := g.shopper("198.51.100.2", "bob")
	b.earnQuizPass(t)
	if st, r := b.buy(t); st != 403 || r.Error != "queue_required" || r.Filter != "queue" || r.WaitURL != "/item/7" {
		t.Errorf("POST /buy/7 without the queue pass: %d %+v, want 403 queue_required naming /item/7", st, r)
	}
	e := g.shopper("198.51.100.5", "erin")
	e.earnQuizPass(t)
	e.cookies["fg_queue_pass"] = d.cookies["fg_queue_pass"]
	if st, r := e.buy(t); st != 403 || r.Error != "queue_required" {
		t.Errorf("POST /buy/7 with a queue pass copied from another client: %d %+v, want 403 queue_required", st, r)
	}
	e.cookies["fg_quiz"] = dQuiz
	if st, r := e.buy(t); st != 403 || r.Error != "quiz_invalid" {
		t.Errorf("POST /buy/7 with a quiz pass copied from another client: %d %+v, want 403 quiz_invalid", st, r)
	}
	if n := g.buys.Load(); n != 0 {
		t.Fatalf("%d refused purchases reached the shop", n)
	}

	if st, r := d.buy(t); st != 200 {
		t.Fatalf("purchase with both passes: %d %+v", st, r)
	}
	// Dana has her one unit: whatever else is wrong with a second attempt
	// (a spent quiz pass, a queue session the purchase ended), she is told
	// the final answer first, never asked to solve or wait for nothing.
	if st, r := d.buy(t); st != 403 || r.Error != "purchase_limit" {
		t.Errorf("the same quiz pass again: %d %+v, want 403 purchase_limit", st, r)
	}
	d.earnQuizPass(t)
	if st, r := d.buy(t); st != 403 || r.Error != "purchase_limit" {
		t.Errorf("a new quiz pass after the purchase: %d %+v, want 403 purchase_limit", st, r)
	}
	// The purchase freed the only session: bob, whose quiz pass the queue's
	// refusal did not burn, waits no more and buys with it.
	if resp, _ := b.do(t, "GET", "/item/7", nil); resp.StatusCode != 200 {
		t.Fatalf("next buyer on the item page: %d", resp.StatusCode)
	}
	if st, r := b.buy(t); st != 200 {
		t.Fatalf("next buyer with the quiz pass earned before: %d %+v", st, r)
	}
	if n, s := g.buys.Load(), g.sold.Load(); n != 2 || s != 2 {
		t.Fatalf("the shop saw %d purchases (%d sold), want exactly the 2 with both passes", n, s)
	}
}

// TestSaleInBrowser: a buyer in headless Chromium opens the item page while
// someone else holds the only session, waits, is let in by the waiting page
// without a reload when that purchase ends the session, and presses "Buy
// now" once: the check page solves the proof of work by itself and posts
// the same purchase again, which goes through. No second click, and the
// question page is never opened.
func TestSaleInBrowser(t *testing.T) {
	fgtest.Chromium(t)
	g := startSale(t, waitInLineEdits...)
	first := g.shopper("198.51.100.1", "alice")
	if resp, _ := first.do(t, "GET", "/item/7", nil); resp.StatusCode != 200 {
		t.Fatalf("first buyer on the item page: %d", resp.StatusCode)
	}
	stop := fgtest.StartChromium(t, g.base+"/test/driver", "--remote-debugging-port=0")
	defer stop()

	var seen []string
	await := func(want string) {
		t.Helper()
		deadline := time.After(45 * time.Second)
		for {
			select {
			case e := <-g.events:
				seen = append(seen, e)
				if strings.Contains(e, want) {
					return
				}
			case <-deadline:
				t.Fatalf("the browser did not reach %q within 45s; it saw:\n%s", want, strings.Join(seen, "\n"))
			}
		}
	}
	await("/item/7|You are in line")
	// The first buyer buys: its session ends and the browser's turn comes.
	first.earnQuizPass(t)
	if st, r := first.buy(t); st != 200 {
		t.Fatalf("first buyer's purchase: %d %+v", st, r)
	}
	await("|Order placed")
	want := []string{
		"/item/7|You are in line",        // the waiting page
		"/item/7|Ember Pour-Over Kettle", // let in by the page itself
		"/buy/7|Just a moment",           // the buy POST is checked, at once
		"/buy/7|Order placed",            // and posted again by the check page
	}
	i := 0
	for _, e := range seen {
		if i < len(want) && strings.HasPrefix(e, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("the browser's pages, in order, lack %q:\n%s", want[i], strings.Join(seen, "\n"))
	}
	itemPages := 0
	for _, e := range seen {
		if strings.HasPrefix(e, "/item/7|Ember") {
			itemPages++
		}
		if strings.HasPrefix(e, "/_flashgate/quiz/") || itemPages > 1 {
			t.Fatalf("the browser went through %q: the check should continue to the purchase by itself:\n%s", e, strings.Join(seen, "\n"))
		}
	}
	if n, s := g.buys.Load(), g.sold.Load(); n != 2 || s != 2 {
		t.Fatalf("the shop saw %d purchases (%d sold), want 2: the first buyer's and the browser's", n, s)
	}
}

// driverPage opens the sale in a frame (same origin, through the gateway)
// and acts as the buyer: it reports each page it sees, presses "Buy now"
// when the item page shows, and follows the quiz link when one is shown
// (the check page hides it while its script works). It never reloads a
// page itself: the waiting page must let it in.
const driverPage = `<!doctype html><meta charset="utf-8"><title>driver</title>
<iframe id="f" src="/item/7" width="900" height="700"></iframe>
<script>
var f=document.getElementById("f"),buys=0,quiz=0;
function report(e){var x=new XMLHttpRequest();x.open("GET","/test/log?e="+encodeURIComponent(e));x.send();}
f.onload=function(){
 var w=f.contentWindow,d=f.contentDocument;
 report(w.location.pathname+"|"+d.title);
 var link=d.getElementById("fg-quiz-link");
 if(link&&link.offsetParent!==null&&quiz<3){quiz++;link.click();return;}
 var form=d.querySelector("form.buy");
 if(form&&buys<3){buys++;form.submit();}
};
</script>`

// serveDriver is the driver origin: the driver page (which also signs the
// browser in, as the shop's login would) and the log it reports to.
func (g *saleGateway) serveDriver(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	switch string(ctx.Path()) {
	case "/test/driver":
		var c fasthttp.Cookie
		c.SetKey("uid")
		c.SetValue("browser")
		c.SetPath("/")
		ctx.Response.Header.SetCookie(&c)
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(driverPage)
	case "/test/log":
		select {
		case g.events <- string(ctx.QueryArgs().Peek("e")):
		default: // a runaway page; the test fails on what it saw
		}
	default:
		ctx.SetStatusCode(404)
	}
}
