package filters

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Browser flows in headless Chromium against a real fasthttp server: the
// proof-of-work quiz solves itself and lands on the protected page; the
// waiting page lets the client in without a manual reload. The server's
// clock advances one second per request, so minimum solve times and
// admission rates pass while Chromium runs its timers in virtual time.

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is needed for the browser tests")
	}
	t.Skip("chromium not installed")
	return ""
}

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
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.TempDir()}, flags...)
	cmd := exec.Command(chromium(t), append(args, url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its renderers and helpers go with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	defer stopGroup(cmd)
	select {
	case <-reached:
	case <-time.After(45 * time.Second):
		t.Fatal("Chromium did not reach the protected page within 45s")
	}
}

func TestBrowserPowQuiz(t *testing.T) {
	chromium(t)
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {mode: pow, difficulty: 12, min_solve: 1s}\n")
	base, reached, _ := browserServer(t, f, map[string]fasthttp.RequestHandler{f.page: f.servePage(env)})
	browse(t, base+f.page+"?return=/buy/42", reached, "--virtual-time-budget=60000", "--dump-dom")
}

func TestBrowserWaitingRoom(t *testing.T) {
	chromium(t)
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

// stopGroup asks the browser's process group to quit, and kills it if it
// has not within 5 s, so no renderer outlives the test.
func stopGroup(cmd *exec.Cmd) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}
