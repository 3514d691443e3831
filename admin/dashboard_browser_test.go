package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

// harness loads the dashboard in a frame of the same origin, reads what
// it shows while the test sends traffic, clicks the waiting room's pause
// button, then the origin server's "take out" button (a Plan B switch),
// then that switch's "turn off", and reports each step to /test/event.
const harness = `<!doctype html><html><body>
<iframe id="f" src="/#token=` + testToken + `" style="width:1400px;height:1000px"></iframe>
<script>
const report = (e) => fetch("/test/event?e=" + encodeURIComponent(e)).catch(() => {});
const f = document.getElementById("f");
f.addEventListener("load", () => {
  const w = f.contentWindow, d = f.contentDocument;
  w.addEventListener("error", (ev) => report("console-error " + ev.message));
  const orig = w.console.error.bind(w.console);
  w.console.error = (...a) => { report("console-error " + a.join(" ")); orig(...a); };
  let step = 0, last = "";
  setInterval(() => {
    const rps = d.getElementById("k-rps").textContent, rej = d.getElementById("k-rej").textContent;
    const state = d.querySelector("#queues td:last-child span");
    const sw = d.querySelector("#switches tr[data-k]");
    const ord = d.querySelector('#orders tr[data-k="order"]');
    const v = "rps=" + rps + " refused=" + rej + " live=" + d.getElementById("live").textContent +
      " queue=" + (state ? state.textContent : "none") + " items=" + d.querySelectorAll("#items tr[data-k]").length +
      " hot=" + d.querySelectorAll("#hotkeys tr[data-k]").length + " switch=" + (sw ? sw.dataset.k : "none") +
      " delivered=" + (ord ? ord.children[3].textContent : "none") + " rate=" + (ord ? ord.children[6].textContent.replace(/ /g, "_") : "none");
    if (v !== last) { report("seen " + v); last = v; }
    const click = (sel, what) => { const b = d.querySelector(sel); if (b) { b.click(); report("clicked " + what); step++; } };
    if (step === 0 && parseFloat(rps) > 0) click("#queues button.pause", "pause");
    else if (step === 1 && state && state.textContent === "paused") click("#origins button.server-down", "take out");
    else if (step === 2 && sw) { report("switch on " + sw.dataset.k); click("#switches button.switch-off", "turn off"); }
    else if (step === 3 && !sw) { report("switch off"); step++; }
  }, 150);
});
</script></body></html>`

// showsDeliveries: a "seen" event in which the purchase queue panel's
// row of the order route counts delivered orders and its configured rate.
func showsDeliveries(e string) bool {
	f := strings.Fields(e)
	return len(f) > 2 && strings.HasPrefix(f[len(f)-2], "delivered=") && f[len(f)-2] != "delivered=0" &&
		f[len(f)-2] != "delivered=none" && strings.HasSuffix(f[len(f)-1], "_of_1000/s")
}

type browserEvents struct {
	mu   sync.Mutex
	list []string
}

func (b *browserEvents) add(e string) {
	b.mu.Lock()
	b.list = append(b.list, e)
	b.mu.Unlock()
}

func (b *browserEvents) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.list...)
}

// TestDashboardInChromium: the dashboard loads in real headless Chromium
// without console errors, its numbers move while traffic flows, its pause
// button pauses the waiting room, and a screenshot of it under traffic is
// kept as a test artifact.
func TestDashboardInChromium(t *testing.T) {
	fgtest.Chromium(t) // skip (or fail under CI) before starting anything
	g := startGateway(t, "127.0.0.1:0", testToken)
	a, err := New(Options{Gateway: g.gw, Listen: "127.0.0.1:0", Token: testToken, Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	events := &browserEvents{}
	mux := http.NewServeMux()
	mux.Handle("/", a.Handler())
	mux.HandleFunc("/test/harness", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(harness))
	})
	mux.HandleFunc("/test/event", func(_ http.ResponseWriter, r *http.Request) { events.add(r.URL.Query().Get("e")) })
	base := serveHTTP(t, mux)

	stopTraffic := sendTraffic(t, g.public)
	defer stopTraffic()

	var console fgtest.Buffer
	stop := fgtest.StartChromiumLogged(t, base+"/test/harness", &console, "--remote-debugging-port=0")
	waitFor(t, events, 30*time.Second, func(seen []string) bool {
		return slices.Contains(seen, "switch off") && slices.ContainsFunc(seen, showsDeliveries)
	})
	stop()

	seen := events.all()
	rates := map[string]bool{}
	for _, e := range seen {
		if strings.HasPrefix(e, "console-error") {
			t.Errorf("dashboard console: %s", e)
		}
		if f := strings.Fields(e); len(f) > 1 && strings.HasPrefix(f[1], "rps=") && f[1] != "rps=–" && f[1] != "rps=0.0" {
			rates[f[1]] = true
		}
	}
	if len(rates) < 2 {
		t.Errorf("requests/s did not move under traffic (%d distinct values); seen:\n%s", len(rates), strings.Join(seen, "\n"))
	}
	if q := g.gw.Queues(); len(q) != 1 || !q[0].Paused {
		t.Errorf("the pause button did not pause the waiting room: %+v", q)
	}
	// The take-out button turned a down switch on (the page listed it), and
	// its turn-off button cleared it.
	if !slices.ContainsFunc(seen, func(e string) bool { return strings.HasPrefix(e, "switch on server:shop/127.0.0.1:") }) {
		t.Errorf("the take-out button turned no server switch on; seen:\n%s", strings.Join(seen, "\n"))
	}
	if sw := g.gw.Switches(); len(sw) != 0 {
		t.Errorf("switches still on after the turn-off button: %+v", sw)
	}
	// The purchase queue panel shows the async route's deliveries moving.
	if !slices.ContainsFunc(seen, showsDeliveries) {
		t.Errorf("the purchase queue panel never showed a delivered order; seen:\n%s", strings.Join(seen, "\n"))
	}
	if !slices.ContainsFunc(seen, func(e string) bool { return strings.Contains(e, " hot=1 ") }) {
		t.Errorf("the hot-key table never showed the static hot key")
	}
	for _, line := range strings.Split(console.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") && (strings.Contains(line, "Uncaught") || strings.Contains(line, "Refused") ||
			strings.Contains(line, "rror")) {
			t.Errorf("chromium console: %s", line)
		}
	}

	// The screenshot: the dashboard alone, a few polls into its life.
	shot := filepath.Join(t.ArtifactDir(), "dashboard.png")
	out := fgtest.Screenshot(t, base+"/#token="+testToken, shot, "--window-size=1400,1000", "--virtual-time-budget=15000")
	st, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	// A blank 1400×1000 PNG is about 10 KB; charts, tiles and tables make
	// it several times that.
	if st.Size() < 30<<10 {
		t.Errorf("screenshot %s is %d bytes: the page looks empty", shot, st.Size())
	}
	t.Logf("screenshot: %s (%d bytes)", shot, st.Size())
}

// sendTraffic sends a varying load to the public port until stopped (at
// most 2 minutes or 200,000 requests): pages (hits and misses) and buys
// (refused once the stock is gone), so every panel has something to show.
func sendTraffic(t *testing.T, public string) (stop func()) {
	t.Helper()
	var halt atomic.Bool
	var wg sync.WaitGroup
	c := &fasthttp.Client{}
	deadline := time.Now().Add(2 * time.Minute)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200_000 && !halt.Load() && time.Now().Before(deadline); i++ {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			switch i % 8 {
			case 0, 4:
				req.Header.SetMethod("POST")
				req.SetRequestURI(public + "/buy/7")
			case 1: // a purchase into the order queue, each by another buyer
				req.Header.SetMethod("POST")
				req.SetRequestURI(public + "/order/1")
				req.Header.Set("X-Buyer", strconv.Itoa(i))
			default:
				req.SetRequestURI(public + "/item/" + string(rune('0'+i%10)))
			}
			req.UseHostHeader = true
			req.Header.SetHost("shop.test") // the gateway serves server.hosts only
			_ = c.Do(req, resp)
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
			if i%20 == 0 { // at most a few thousand a second, varying: the machine is shared
				time.Sleep(time.Duration(5+i%15) * time.Millisecond)
			}
		}
	}()
	return func() { halt.Store(true); wg.Wait() }
}

func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("harness server: %v", err)
		}
	}()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// waitFor waits until ok holds for the events seen, or fails the test
// with them after limit.
func waitFor(t *testing.T, ev *browserEvents, limit time.Duration, ok func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok(ev.all()) {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard did not get there within %v; seen:\n%s", limit, strings.Join(ev.all(), "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling the browser's reports, not asserting on time
	}
}
