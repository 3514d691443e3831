package filters

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

// Browser flows in headless Chromium against a real fasthttp server: the
// proof-of-work quiz solves itself and lands on the protected page; the
// waiting page lets the client in without a manual reload. The server's
// clock advances one second per request, so minimum solve times and
// admission rates pass while Chromium runs its timers in virtual time.

// browserServer serves /buy/42 behind f and the gateway pages, with a
// clock that ticks one second per request. The channel is closed when the
// protected page has been served.
func browserServer(t *testing.T, f Filter, pages map[string]fasthttp.RequestHandler) (string, <-chan struct{}, *atomic.Int32) {
	t.Helper()
	var rejected atomic.Int32
	reached := make(chan struct{})
	var once sync.Once
	var clock atomic.Int64
	clock.Store(t0)
	handler := func(ctx *fasthttp.RequestCtx) {
		r := &Request{Ctx: ctx, Route: "buy", ClientIP: netip.MustParseAddr("127.0.0.1"), Now: clock.Add(sec)}
		if h, ok := pages[string(ctx.Path())]; ok {
			ctx.SetUserValue(PageRequestKey, r)
			h(ctx)
			return
		}
		if string(ctx.Path()) != "/buy/42" {
			ctx.Error("not found", 404)
			return
		}
		if v := f.Check(r); v.Rejected() {
			rejected.Add(1)
			v.Write(ctx)
			return
		}
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(`<!doctype html><title>item 42</title><p id="ok">protected page</p>`)
		once.Do(func() { close(reached) })
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handler}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String(), reached, &rejected
}

// browse opens url in headless Chromium and waits until the protected
// page was served (the test passes) or 45 s passed (it fails). Chromium
// is stopped either way: after a form POST it may not exit on its own.
func browse(t *testing.T, url string, reached <-chan struct{}, flags ...string) {
	t.Helper()
	stop := fgtest.StartChromium(t, url, flags...)
	defer stop()
	select {
	case <-reached:
	case <-time.After(45 * time.Second):
		t.Fatal("Chromium did not reach the protected page within 45s")
	}
}

func TestBrowserPowQuiz(t *testing.T) {
	fgtest.Chromium(t)
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {mode: pow, difficulty: 12, min_solve: 1s}\n")
	base, reached, _ := browserServer(t, f, map[string]fasthttp.RequestHandler{f.page: f.servePage(env)})
	browse(t, base+f.page+"?return=/buy/42", reached, "--virtual-time-budget=60000", "--dump-dom")
}

func TestBrowserWaitingRoom(t *testing.T) {
	fgtest.Chromium(t)
	for _, js := range []bool{true, false} {
		t.Run(map[bool]string{true: "polling script", false: "without JavaScript"}[js], func(t *testing.T) {
			env := testEnv(t)
			if !js && testing.Short() {
				t.Skip("waits for one real 20 s page refresh")
			}
			// One tick of the server clock per request: the browser's first
			// request finds half a credit, its first refresh a whole one.
			f := mustQueue(t, env, "- queue: {admit_rate: 1/2s}\n")
			// Someone else takes the first admission, so the browser has to wait.
			newClient(1).visit(f, t0)
			base, reached, waited := browserServer(t, f, map[string]fasthttp.RequestHandler{f.status: f.serveStatus(env)})
			// With JavaScript, timers run in virtual time; without, the
			// browser stays up (remote debugging) for the real refresh.
			flags := []string{"--virtual-time-budget=60000", "--dump-dom"}
			if !js {
				flags = []string{"--blink-settings=scriptEnabled=false", "--remote-debugging-port=0"}
			}
			browse(t, base+"/buy/42", reached, flags...)
			if waited.Load() == 0 {
				t.Fatal("the browser was let in without waiting: the test proves nothing")
			}
		})
	}
}
