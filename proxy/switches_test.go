package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// loadRules loads a rule file from a format and its arguments, as a
// reload would read it.
func loadRules(t testing.TB, format string, args ...any) *rules.Config {
	t.Helper()
	cfg, err := rules.LoadBytes("gateway.yaml", fmt.Appendf(nil, format, args...))
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	return cfg
}

const switchRules = `
origins:
  shop: {servers: [%[1]s], read_timeout: 5s%[3]s}
  mirror: {servers: [%[2]s]}
routes:
  - {name: item, path: "/item/{id}", origin: shop, fallback: {body: "<p>fallback item</p>"}}
  - {name: buy, path: "/buy/{id}", origin: shop, priority: critical}
  - {name: page, path: "/page/{id}", origin: shop, fallback: {origin: mirror}}
`

// TestSwitchesWorkAndSurviveReload: every Plan B switch does what it says,
// is listed, logged and counted, and is still on after a reload, even one
// that replaces the origin's pool.
func TestSwitchesWorkAndSurviveReload(t *testing.T) {
	shop := startOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("from shop") })
	mirror := startOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("from mirror") })
	fl := &fakeLoader{}
	cfg := loadRules(t, switchRules, shop, mirror, "")
	fl.set(cfg, nil)
	g := newGateway(t, cfg, Options{ConfigPath: "gateway.yaml", load: fl.load})
	reload := func(extra string) {
		t.Helper()
		fl.set(loadRules(t, switchRules, shop, mirror, extra), nil)
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	body := func(path string) (int, string) {
		resp := g.do(t, "GET", path, nil)
		return resp.StatusCode(), string(resp.Body())
	}

	for _, bad := range []struct {
		w    Switch
		want string
	}{
		{Switch{Kind: "shut"}, `unknown switch kind "shut"`},
		{Switch{Kind: SwitchClose, Route: "nope"}, `unknown route "nope" (known: buy, item, page)`},
		{Switch{Kind: SwitchDegrade, Route: "buy"}, `route "buy" has no fallback`},
		{Switch{Kind: SwitchScale, Route: "item", Factor: 0}, "want 0 < factor <= 10"},
		{Switch{Kind: SwitchDown, Origin: "shop", Server: "10.0.0.1:80"}, `origin "shop" has no server "10.0.0.1:80"`},
	} {
		if err := g.SetSwitch(bad.w); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("SetSwitch(%+v) = %v, want an error containing %q", bad.w, err, bad.want)
		}
	}

	// close
	if err := g.SetSwitch(Switch{Kind: SwitchClose, Route: "buy", Message: "Checkout <b>reopens</b> at 20:00"}); err != nil {
		t.Fatal(err)
	}
	reload(", write_timeout: 3s") // a changed origin: a new pool
	resp := g.do(t, "GET", "/buy/1", nil)
	if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), "Checkout breopens/b at 20:00") || len(resp.Header.Peek("Retry-After")) == 0 {
		t.Errorf("closed route after a reload: %d %q, want 503 with the message (markup dropped) and Retry-After", resp.StatusCode(), resp.Body())
	}
	if err := g.ClearSwitch("close:buy"); err != nil {
		t.Fatal(err)
	}
	if st, b := body("/buy/1"); st != 200 || b != "from shop" {
		t.Errorf("after ClearSwitch: %d %q", st, b)
	}
	if err := g.ClearSwitch("close:buy"); err == nil {
		t.Error("clearing a switch that is off succeeded")
	}

	// degrade
	if err := g.SetSwitch(Switch{Kind: SwitchDegrade, Route: "item"}); err != nil {
		t.Fatal(err)
	}
	reload("")
	if st, b := body("/item/1"); st != 200 || b != "<p>fallback item</p>" {
		t.Errorf("degraded route: %d %q, want the fallback body", st, b)
	}
	if st, b := body("/buy/1"); st != 200 || b != "from shop" {
		t.Errorf("another route while item is degraded: %d %q", st, b)
	}
	g.ClearSwitch("degrade:item")

	// stale_only: item has no cache, so its fallback answers; buy has
	// neither, so a 503 says the cache cannot answer.
	g.SetSwitch(Switch{Kind: SwitchStaleOnly, Route: "item"})
	g.SetSwitch(Switch{Kind: SwitchStaleOnly, Route: "buy"})
	reload(", write_timeout: 4s")
	if st, b := body("/item/1"); st != 200 || b != "<p>fallback item</p>" {
		t.Errorf("stale_only route without cache: %d %q, want its fallback", st, b)
	}
	if st, b := body("/buy/1"); st != 503 || !strings.Contains(b, "cache only") {
		t.Errorf("stale_only route without cache or fallback: %d %q, want 503 cache only", st, b)
	}
	g.ClearSwitch("stale_only:item")
	g.ClearSwitch("stale_only:buy")

	// down, then up replaces it
	if err := g.SetSwitch(Switch{Kind: SwitchDown, Origin: "shop", Server: shop}); err != nil {
		t.Fatal(err)
	}
	reload(", write_timeout: 2s")
	if st, b := body("/item/1"); st != 200 || b != "<p>fallback item</p>" {
		t.Errorf("item with its only server switched down: %d %q, want the fallback", st, b)
	}
	if st, _ := body("/buy/1"); st != 502 {
		t.Errorf("buy with its only server switched down: %d, want 502", st)
	}
	if resp := g.do(t, "GET", "/page/1", nil); string(resp.Body()) != "from mirror" || string(resp.Header.Peek("X-Flashgate-Fallback")) != "origin" {
		t.Errorf("page, whose fallback is another origin, with shop down: %d %q", resp.StatusCode(), resp.Body())
	}
	if o := g.Origins(); len(o) != 2 || o[1].Origin != "shop" || o[1].Forced != "down" || o[1].Up || !o[0].Up {
		t.Errorf("Origins() = %+v, want shop forced down", o)
	}
	g.SetSwitch(Switch{Kind: SwitchUp, Origin: "shop", Server: shop})
	if n := len(g.Switches()); n != 1 {
		t.Errorf("up did not replace down: %d switches", n)
	}
	if st, _ := body("/buy/1"); st != 200 {
		t.Errorf("server switched up: %d", st)
	}

	// scale is listed; its effect on limits is in TestOverload*.
	g.SetSwitch(Switch{Kind: SwitchScale, Route: "item", Factor: 0.5})
	reload("")
	names := []string{}
	for _, w := range g.Switches() {
		names = append(names, w.Name())
	}
	if strings.Join(names, " ") != "scale:item server:shop/"+shop {
		t.Errorf("switches after reload: %v", names)
	}
	m := g.metricsText()
	for _, want := range []string{"flashgate_switches_on 2", `flashgate_switch_changes_total{kind="close"} 2`, `flashgate_switch_changes_total{kind="down"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grep(m, "switch"))
		}
	}
	if logs := g.logs.String(); !strings.Contains(logs, "switch on") || !strings.Contains(logs, "switch=close:buy") || !strings.Contains(logs, "switch off") {
		t.Errorf("switch changes not logged:\n%s", logs)
	}
}
