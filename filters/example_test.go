package filters_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/valyala/fasthttp"

	"flashgate/cluster"
	"flashgate/filters"
	"flashgate/route"
	"flashgate/rules"
)

// Example shows what the proxy does with this package: one Env for the
// process; per reload Begin, Compile per route, Commit; per request fill a
// Request, Check, Write a rejection or forward and Observe the answer.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(path, []byte(`
origins:
  shop: {servers: ["127.0.0.1:9"]}
routes:
  - name: buy
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit: {rate: 1/s, key: "cookie:uid"}
      - stock: {stock: {"1": 100}, sold_out: {status: 409}}
`), 0o644)
	cfg, err := rules.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Process start.
	store, _ := cluster.NewMemory(cluster.MemoryOptions{Keys: 1 << 16, Flags: 1 << 12})
	env, _ := filters.NewEnv(store, slog.New(slog.DiscardHandler))
	env.OnSoldOut = func(route, item string) { /* purge the item's pages by tag */ }

	// Each reload.
	if err := env.Begin(cfg.Admission, nil); err != nil {
		fmt.Println(err)
		return
	}
	chains := map[string]*filters.Chain{}
	for _, rt := range cfg.Routes {
		c, err := filters.Compile(rt.Name, rt.Filters, env)
		if err != nil {
			fmt.Println(err) // keep serving the last good snapshot
			return
		}
		chains[rt.Name] = c
	}
	pages := env.Commit() // mount under /_flashgate/ in the new snapshot
	_ = pages

	// Each request (Request and Params pooled by the proxy).
	pattern, _ := route.Parse("/buy/{id}")
	table, _ := route.NewTable([]route.Entry{{Pattern: pattern}}, false)
	now := env.Now() // the proxy reads its clock once per request; fixed here
	for i := range 2 {
		ctx := &fasthttp.RequestCtx{}
		ctx.Request.SetRequestURI("/buy/1")
		ctx.Request.Header.SetCookie("uid", "alice")
		var ps route.Params
		table.Match([]byte("shop.example"), []byte("POST"), ctx.Path(), &ps)
		r := &filters.Request{Ctx: ctx, Route: "buy", Params: &ps,
			ClientIP: netip.MustParseAddr("192.0.2.1"), Now: now}

		if v := chains["buy"].Check(r); v.Rejected() {
			v.Write(ctx) // prebuilt 429 with Retry-After; never reaches the origin
			fmt.Println(i, ctx.Response.StatusCode(), string(ctx.Response.Header.Peek("X-Flashgate-Filter")))
			continue
		}
		// ... forward to the origin into ctx.Response, then always:
		ctx.Response.SetStatusCode(200)
		chains["buy"].Observe(r, &ctx.Response)
		fmt.Println(i, ctx.Response.StatusCode())
	}
	// Output:
	// 0 200
	// 1 429 ratelimit
}
