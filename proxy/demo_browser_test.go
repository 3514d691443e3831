package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flashgate/demo"
	"flashgate/internal/fgtest"
	"flashgate/rules"
)

// demoSaleRules put the demo shop's item pages, fragments and sign-in
// behind the gateway, with a waiting room on the item pages.
const demoSaleRules = `origins:
  shop:
    servers: [%s]
admission:
  pages:
    shop: {name: Demo Shop, color: "#c92e3a"}
routes:
  - name: item
    methods: [GET, HEAD]
    path: /item/{id}
    origin: shop
    esi: {mode: auto, forward_cookies: [uid, cart]}
    filters:
      - queue: {admit_rate: 100/s}
  - {name: price, path: "/frag/price/{id}", origin: shop}
  - {name: stock, path: "/frag/stock/{id}", origin: shop}
  - {name: user, path: /frag/user, origin: shop}
  - {name: cart, path: /frag/cart, origin: shop}
  - {name: static, path: "/static/*", origin: shop}
  - {name: login, methods: [GET, POST], path: /login, origin: shop}
`

// TestBrowserDemoDoorbuster: a shopper signs in and lands on the
// doorbuster through the gateway: the assembled page names them in the
// header with a sign-out, says it is the doorbuster, its one-per-customer
// limit and countdown, and shows the stock fragment. Screenshots at
// desktop and phone size go to testdata/screenshots.
func TestBrowserDemoDoorbuster(t *testing.T) {
	fgtest.Chromium(t)
	shop := startShop(t, demo.Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(demoSaleRules, shop.addr))
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()
	// The sign-in form, submitted as a shopper would, returning to item 7.
	start := filepath.Join(dir, "signin.html")
	signin := `<!doctype html><title>sign in</title><form method="post" action="` + base +
		`/login"><input name="user" value="alice"><input name="next" value="/item/7"></form><script>document.forms[0].submit()</script>`
	if err := os.WriteFile(start, []byte(signin), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, console := fgtest.Headless(t, "file://"+start, "--dump-dom")
	for _, line := range console {
		t.Errorf("console: %s", line)
	}
	for _, want := range []string{"Signed in as <b>alice</b>", `<button type="submit">Sign out</button>`,
		`<span class="badge">Doorbuster</span>`, "Limit 1 per customer", `id="deal-left"`, `data-left="100">100 in stock`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the doorbuster page lacks %q:\n%s", want, dom)
		}
	}
	shots := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]string{"desktop": "1280,860", "phone": "390,844"} {
		png, _ := filepath.Abs(filepath.Join(shots, "demo-doorbuster-"+name+".png"))
		fgtest.Headless(t, "file://"+start, "--window-size="+size, "--screenshot="+png)
		if st, err := os.Stat(png); err != nil || st.Size() < 12<<10 {
			t.Errorf("screenshot %s: %v", png, err)
		}
	}
}
