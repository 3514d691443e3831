package proxy

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// fakeLoader stands in for rules.Load: it returns whatever the test set.
type fakeLoader struct {
	mu  sync.Mutex
	cfg *rules.Config
	err error
}

func (f *fakeLoader) set(cfg *rules.Config, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg, f.err = cfg, err
}

func (f *fakeLoader) load(string) (*rules.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg, f.err
}

// reloadGateway serves "item" → shop and "static" → static (two origins).
func reloadGateway(t *testing.T, shop, static string) (*gateway, *fakeLoader, func(byte) *rules.Config) {
	mk := func(digest byte) *rules.Config {
		cfg := testConfig(shop, testRoute(t, "item", "/item/{id}", "shop"), testRoute(t, "static", "/static/*", "static"))
		cfg.Origins = append(cfg.Origins, &rules.Origin{Name: "static", Servers: []string{static}})
		cfg.Digest[0] = digest
		return cfg
	}
	fl := &fakeLoader{}
	clock := time.Date(2026, 11, 11, 12, 3, 11, 0, time.UTC)
	g := newGateway(t, mk(1), Options{ConfigPath: "gateway.yaml", load: fl.load, Now: func() time.Time { return clock }})
	return g, fl, mk
}

func TestReloadRejectsBadConfigAndKeepsServing(t *testing.T) {
	rec := &recorder{}
	addr := startOrigin(t, rec.handle)
	g, fl, mk := reloadGateway(t, addr, addr)
	before := g.Snapshot()

	fl.set(nil, errors.New("sales/singles-day.yaml:14:5: routes[2].origin: unknown origin \"shpo\" (known: shop, static)"))
	if err := g.Reload(); err == nil {
		t.Fatal("Reload of a bad config returned nil")
	}
	if g.Snapshot() != before {
		t.Fatal("a rejected reload replaced the snapshot")
	}
	st := g.LastReload()
	if st.OK || !strings.Contains(st.Error, "sales/singles-day.yaml:14:5") {
		t.Errorf("LastReload = %+v, want not ok with the file:line:col error", st)
	}
	wantLog := `rejected sales/singles-day.yaml:14:5: routes[2].origin: unknown origin \"shpo\" (known: shop, static); still serving rules loaded at 12:03:11`
	if !strings.Contains(g.logs.String(), wantLog) {
		t.Errorf("log does not say what was rejected and what still serves; want %s in:\n%s", wantLog, g.logs.String())
	}
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 {
		t.Errorf("after a rejected reload: status %d, want 200 from the last good rules", resp.StatusCode())
	}

	// A config that loads but does not compile is rejected the same way.
	bad := mk(2)
	bad.Routes[0].Origin = "nowhere"
	fl.set(bad, nil)
	if err := g.Reload(); err == nil || !strings.Contains(err.Error(), `routes[0].origin: unknown origin "nowhere" (known: shop, static)`) {
		t.Errorf("Reload of an uncompilable config: %v", err)
	}
	if g.Snapshot() != before {
		t.Fatal("an uncompilable reload replaced the snapshot")
	}

	good := mk(3)
	good.Routes = good.Routes[:1]
	good.Server.ReadTimeout = 3 * time.Second
	good.Admin = &rules.Admin{Listen: "127.0.0.1:9191"}
	fl.set(good, nil)
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload of a good config: %v", err)
	}
	if g.Snapshot() == before || !g.LastReload().OK {
		t.Fatal("a good reload did not swap the snapshot")
	}
	if !strings.Contains(g.logs.String(), "take effect only at the next restart: server (listen, timeouts, sizes, connection limits), admin") {
		t.Errorf("no warning that the server limits need a restart:\n%s", g.logs.String())
	}
	if resp := g.do(t, "GET", "/static/a.css", nil); resp.StatusCode() != 404 {
		t.Errorf("route removed by the reload still answers: %d", resp.StatusCode())
	}
	m := g.metricsText()
	for _, want := range []string{"flashgate_reload_total 3", "flashgate_reload_errors_total 2",
		"flashgate_reload_last_success_timestamp_seconds 1794398591"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grep(m, "reload"))
		}
	}

	// Same bytes: nothing happens, nothing is counted.
	after := g.Snapshot()
	if err := g.Reload(); err != nil || g.Snapshot() != after {
		t.Errorf("an unchanged config was reloaded (err %v)", err)
	}
	if m := g.metricsText(); !strings.Contains(m, "flashgate_reload_total 3") {
		t.Error("an unchanged config counted as a reload")
	}
}

func TestReloadKeepsUnchangedOriginState(t *testing.T) {
	rec := &recorder{}
	addr := startOrigin(t, rec.handle)
	g, fl, mk := reloadGateway(t, addr, addr)
	shop := g.Snapshot().pools["shop"]
	static := g.Snapshot().pools["static"]
	shop.SetUp(addr, false) // health state that must survive

	next := mk(2)
	next.Routes[1].Path = "/assets/*"         // an unrelated edit
	next.Origins[1].ReadTimeout = time.Second // the static origin changes meaning
	next.Routes[1].Pattern = testRoute(t, "static", "/assets/*", "static").Pattern
	fl.set(next, nil)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	snap := g.Snapshot()
	if snap.pools["shop"] != shop || shop.Status()[0].Up {
		t.Error("the unchanged shop origin lost its pool or health state on an unrelated reload")
	}
	if snap.pools["static"] == static {
		t.Error("the changed static origin kept its old pool")
	}
	g.env.mu.Lock()
	for _, p := range g.env.pools {
		if p == static {
			t.Error("the replaced static pool is still held by the Env after the swap")
		}
	}
	if len(g.env.pools) != 2 {
		t.Errorf("Env holds %d pools, want 2 (shop, new static)", len(g.env.pools))
	}
	g.env.mu.Unlock()
	// Its only server is still down: the request is sent to it all the
	// same (health.all_down: send) and counted as such.
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 {
		t.Errorf("shop's only server, down: status %d, want 200 (all_down: send)", resp.StatusCode())
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_origin_all_down_total{origin="shop"} 1`) {
		t.Errorf("the down state did not survive the reload:\n%s", grep(m, "all_down"))
	}
}

// TestReloadInFlight: a request runs to its end on the snapshot it started
// with, even when a reload points its route elsewhere meanwhile.
func TestReloadInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	oldOrigin := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/item/slow" {
			close(arrived)
			<-release
		}
		ctx.SetBodyString("old")
	})
	newOrigin := startOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("new") })
	g, fl, mk := reloadGateway(t, oldOrigin, oldOrigin)

	done := make(chan string)
	go func() {
		resp := g.do(t, "GET", "/item/slow", nil)
		done <- string(resp.Body())
	}()
	<-arrived
	next := mk(2)
	next.Origins[0].Servers = []string{newOrigin}
	fl.set(next, nil)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := string(g.do(t, "GET", "/item/1", nil).Body()); got != "new" {
		t.Errorf("a request after the reload got %q, want the new origin", got)
	}
	close(release)
	if got := <-done; got != "old" {
		t.Errorf("the in-flight request got %q, want it to finish on its snapshot's origin", got)
	}
}

// A rejected edit is logged and counted once, however often the watcher
// wakes for it: a log file kept in the rules directory wakes the watcher
// with every line written, and re-logging the same rejection looped.
func TestReloadSameRejectionLoggedOnce(t *testing.T) {
	addr := startOrigin(t, (&recorder{}).handle)
	g, fl, _ := reloadGateway(t, addr, addr)
	fl.set(nil, errors.New("gateway.yaml:3:1: invalid YAML: did not find expected node content"))
	for range 5 {
		if err := g.Reload(); err == nil {
			t.Fatal("Reload of a bad config returned nil")
		}
	}
	if n := strings.Count(g.logs.String(), "rejected gateway.yaml:3:1"); n != 1 {
		t.Errorf("the same rejection was logged %d times, want 1:\n%s", n, g.logs.String())
	}
	if m := g.metricsText(); !strings.Contains(m, "flashgate_reload_errors_total 1\n") {
		t.Errorf("metrics: %s", grep(m, "reload_errors"))
	}
	// A different mistake is news again.
	fl.set(nil, errors.New("gateway.yaml:9:5: routes[0].origin: unknown origin \"x\""))
	_ = g.Reload()
	if !strings.Contains(g.logs.String(), "rejected gateway.yaml:9:5") {
		t.Errorf("a new rejection was not logged:\n%s", g.logs.String())
	}
}

// An operator undoes a rejected edit by restoring the file byte for byte:
// its digest is the serving rules' again, and health must stop showing the
// old rejection.
func TestReloadRestoredFilesClearTheRejection(t *testing.T) {
	addr := startOrigin(t, (&recorder{}).handle)
	g, fl, mk := reloadGateway(t, addr, addr)
	fl.set(nil, errors.New("gateway.yaml:3:1: server.bogus: unknown key"))
	if err := g.Reload(); err == nil {
		t.Fatal("the bad edit was accepted")
	}
	fl.set(mk(1), nil) // the serving rules' digest
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload of the restored files: %v", err)
	}
	if st := g.LastReload(); !st.OK || st.Error != "" {
		t.Fatalf("LastReload after restoring the files = %+v, want ok without an error", st)
	}
	resp := g.do(t, "GET", "/_flashgate/health", nil)
	if strings.Contains(string(resp.Body()), "bogus") {
		t.Fatalf("/_flashgate/health still shows the undone rejection: %s", resp.Body())
	}
}
