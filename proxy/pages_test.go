package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flashgate/rules"
)

// TestSalePageTemplate: a sale file's route brings its own page, which
// replaces the built-in one; a broken edit of that page is rejected at
// reload with the page's file:line:col, and the last good page keeps
// serving; fixing it serves the new page, though the rule files never
// changed.
func TestSalePageTemplate(t *testing.T) {
	addr := startOrigin(t, (&recorder{}).handle)
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gateway.yaml", "origins:\n  shop:\n    servers: ["+addr+"]\ninclude: [\"sales/*.yaml\"]\nroutes: []\n")
	write("sales/dawn.yaml", `routes:
  - name: dawn
    path: /dawn/{id}
    origin: shop
    pages:
      shop: {name: Dawn Deals, color: "#ffd400"}
      not_started: pages/soon.html
    filters:
      - window: {start: 2099-01-01T00:00:00Z}
`)
	good := `{{template "layout" .}}{{define "extra"}}<p id="soon">Opens {{.StartsAtText}}, {{.WaitText}} from now</p>{{end}}`
	write("sales/pages/soon.html", good)
	path := filepath.Join(dir, "gateway.yaml")
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, cfg, Options{ConfigPath: path})
	html := []string{"Accept", "text/html"}
	check := func(when, want string) {
		t.Helper()
		resp := g.do(t, "GET", "/dawn/1", nil, html...)
		if body := string(resp.Body()); resp.StatusCode() != 403 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d, want 403 with %q:\n%s", when, resp.StatusCode(), want, body)
		}
	}
	check("the sale's page", `<p id="soon">Opens Thu 1 Jan 2099, 00:00 UTC, about`)
	check("the sale's shop", `<span>Dawn Deals</span>`)
	check("a light accent gets dark text", `--fg-on-accent:#1c1e21`)

	write("sales/pages/soon.html", "<p>\n {{.StartsAtTxt}}</p>")
	err = g.Reload()
	soon := filepath.Join(dir, "sales", "pages", "soon.html")
	if err == nil || !strings.Contains(err.Error(), soon+":2:3: can't evaluate field StartsAtTxt") ||
		!strings.Contains(err.Error(), "pages.not_started") {
		t.Fatalf("Reload of a broken page: %v; want the page's file:line:col and the field", err)
	}
	check("after the broken edit", `<p id="soon">Opens`)

	write("sales/pages/soon.html", `<p id="soon2">{{.Title}}</p>`)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	check("after the fix", `<p id="soon2">The sale has not started yet</p>`)
}
