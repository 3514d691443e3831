package proxy

import (
	"strings"
	"testing"

	"flashgate/rules"
)

// TestCompileErrors: every error of a config is reported at once, each
// naming file:line:col and the key.
func TestCompileErrors(t *testing.T) {
	cfg := testConfig("127.0.0.1:1",
		testRoute(t, "item", "/item/{id}", "shop"),
		testRoute(t, "item", "/other", "shop"),
		testRoute(t, "buy", "/buy/{id}", "shpo"),
	)
	cfg.Routes[1].Pos = rules.Pos{File: "sales/a.yaml", Line: 7, Col: 5}
	cfg.Routes[2].Pos = rules.Pos{File: "sales/a.yaml", Line: 14, Col: 5}
	cfg.Origins = append(cfg.Origins, &rules.Origin{Name: "empty", Pos: rules.Pos{File: "gateway.yaml", Line: 40, Col: 3}})
	cfg.Server.Unmatched = "legacy"
	err := Check(cfg)
	if err == nil {
		t.Fatal("Check accepted a broken config")
	}
	want := []string{
		`gateway.yaml:40:3: origins[1].servers: origin "empty" has no servers`,
		`sales/a.yaml:7:5: routes[1].name: duplicate route name "item"`,
		`sales/a.yaml:14:5: routes[2].origin: unknown origin "shpo" (known: shop, empty)`,
		`server.unmatched: unknown origin "legacy" (known: deny, shop, empty)`,
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}
