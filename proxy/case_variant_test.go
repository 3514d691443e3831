package proxy

import (
	"strings"
	"testing"

	"flashgate/demo"
)

// caseRules leave server.case_insensitive at its default (false) and send
// what no route matches to the shop, as a gateway in front of a shop with
// many unlisted pages does; a catch-all route does the same for GET.
const caseRules = `
server: {unmatched: shop}
origins:
  shop: {servers: ["%s"]}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit: {rate: 1/m, key: "cookie:uid"}
  - name: pages
    methods: [GET, HEAD]
    path: /*
    origin: shop
`

// TestCaseVariantsNeverUnfiltered: with exact-case matching (the default),
// a case variant of the filtered /buy/{id} never reaches a shop that routes
// case-insensitively through another route or the unmatched fallback; it
// is a 404 at the edge that says why. Paths whose case only a parameter or
// a catch-all reads still pass.
func TestCaseVariantsNeverUnfiltered(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100, CaseInsensitive: true})
	g, _ := fileGateway(t, caseRules, so.addr)
	c := g.client("203.0.113.7")
	if r := buy(t, c, "POST", "/buy/1", "alice"); r.StatusCode() != 200 {
		t.Fatalf("first purchase: %d %s", r.StatusCode(), r.Body())
	}
	tests := []struct {
		name, method, path string
	}{
		{"upper", "POST", "/BUY/1"},
		{"title", "POST", "/Buy/1"},
		{"escaped upper letter", "POST", "/%42UY/1"},
		{"mixed with zeros", "POST", "/bUy/01"},
		{"mixed with a trailing slash", "POST", "/buY/1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := so.buys.Load()
			r := buy(t, c, tt.method, tt.path, "alice")
			if n := so.buys.Load() - before; n != 0 {
				t.Fatalf("%s %s reached the shop's buy handler (%d) without the buy route's filters", tt.method, tt.path, r.StatusCode())
			}
			if r.StatusCode() != 404 || !strings.Contains(string(r.Body()), `"error":"case_mismatch"`) ||
				!strings.Contains(string(r.Body()), "letter case") {
				t.Errorf("%s %s: %d %s, want 404 case_mismatch saying the letter case differs", tt.method, tt.path, r.StatusCode(), r.Body())
			}
		})
	}
	for _, p := range []string{"/item/1", "/Static/Nope.CSS"} {
		if r := g.do(t, "GET", p, nil); r.StatusCode() == 404 && strings.Contains(string(r.Body()), "case_mismatch") {
			t.Errorf("GET %s: refused as a case variant, but no route spells it otherwise", p)
		}
	}
}
