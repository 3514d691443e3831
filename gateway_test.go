package flashgate_test

import (
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/route"
	"flashgate/rules"
)

// TestShippedConfig loads the repository's gateway.yaml, as `go run
// ./cmd/flashgate` does, and checks that it routes every page of the demo
// shop to a page that exists, and nothing else: the shipped example must be
// valid at every commit.
func TestShippedConfig(t *testing.T) {
	cfg, err := rules.Load("gateway.yaml")
	if err != nil {
		t.Fatalf("gateway.yaml does not load:\n%v", err)
	}
	if cfg.Demo == nil || cfg.Demo.Listen == "" {
		t.Fatal("gateway.yaml has no demo.listen: `go run ./cmd/flashgate` would start no origin")
	}
	if cfg.Server.Unmatched != "deny" {
		t.Errorf("server.unmatched = %q, want deny: the example must not forward unknown paths", cfg.Server.Unmatched)
	}
	entries := make([]route.Entry, len(cfg.Routes))
	for i, r := range cfg.Routes {
		entries[i] = route.Entry{Host: r.Host, Methods: r.Methods, Pattern: r.Pattern}
	}
	table, err := route.NewTable(entries, cfg.Server.CaseInsensitive)
	if err != nil {
		t.Fatalf("route table: %v", err)
	}
	shop := demo.New(demo.Options{})
	tests := []struct {
		method, path string
		wantRoute    string // "" = no route
		wantRes      route.Result
	}{
		{"GET", "/", "catalogue", route.Found},
		{"GET", "/item/3", "item", route.Found},
		{"HEAD", "/item/3", "item", route.Found},
		{"GET", "/item/7", "singles-day-item", route.Found},
		{"GET", "/frag/price/3", "price-fragment", route.Found},
		{"GET", "/frag/stock/3", "stock-fragment", route.Found},
		{"GET", "/frag/cart", "cart-fragment", route.Found},
		{"POST", "/buy/3", "buy", route.Found},
		{"POST", "/buy/7", "singles-day-buy", route.Found},
		{"GET", "/buy/3", "", route.MethodNotAllowed},
		{"POST", "/login", "login", route.Found},
		{"GET", "/pay/12", "pay", route.Found},
		{"POST", "/pay/12", "pay", route.Found},
		{"GET", "/static/app.css", "static", route.Found},
		{"GET", "/api/items/3", "item-api", route.Found},
		{"GET", "/slow", "slow", route.Found},
		{"GET", "/health", "", route.NotFound}, // the shop's own health check stays private
	}
	for _, tt := range tests {
		var ps route.Params
		i, res := table.Match([]byte("localhost"), []byte(tt.method), []byte(tt.path), &ps)
		got := ""
		if res == route.Found {
			got = cfg.Routes[i].Name
		}
		if res != tt.wantRes || got != tt.wantRoute {
			t.Errorf("%s %s: %v route %q, want %v route %q", tt.method, tt.path, res, got, tt.wantRes, tt.wantRoute)
		}
		if res == route.Found {
			if status := askShop(shop, tt.method, tt.path); status == fasthttp.StatusNotFound || status == fasthttp.StatusMethodNotAllowed {
				t.Errorf("%s %s: routed to %q but the demo shop answers %d", tt.method, tt.path, got, status)
			}
		}
	}
}

// askShop sends one request straight to the shop's handler.
func askShop(shop *demo.Shop, method, path string) int {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	if path == "/slow" {
		req.SetRequestURI("/slow?ms=0")
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	shop.Handler()(&ctx)
	return ctx.Response.StatusCode()
}
