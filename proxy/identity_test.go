package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"flashgate/demo"
	"flashgate/rules"
)

// identityRules: the demo shop books a purchase to cookie uid, else to
// header X-User-Id; the purchase limit keys on the cookie. IDENTITY is
// replaced by the origin's identity declaration under test.
const identityRules = `
server: {trusted_proxies: [198.51.100.0/24]}
origins:
  shop:
    servers: ["%s"]
IDENTITY
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - purchase_limit: {max: 1, per: item, key: "cookie:uid"}
`

// TestIdentityHeadersFromGatewayOnly: a client cannot buy a second unit as
// alice by naming her in X-User-Id beside (or instead of) its own cookie:
// the header the shop trusts comes from the gateway only. Declared in
// origins.shop.identity it is dropped from trusted proxies too and set
// from the cookie the limit keys on; undeclared, the gateway still drops
// it from untrusted clients.
func TestIdentityHeadersFromGatewayOnly(t *testing.T) {
	type step struct {
		name, peer, uid, header string
		status                  int
		user                    string // the user the shop booked, on a 200
	}
	declared := `    identity:
      - {header: X-User-Id, from: "cookie:uid"}`
	for _, tc := range []struct {
		name, identity string
		steps          []step
	}{
		{"declared", declared, []step{
			{"alice buys with her cookie", "203.0.113.7", "alice", "", 200, "alice"},
			{"no cookie, header names alice", "203.0.113.8", "", "alice", 401, ""},
			{"through a trusted proxy, header names alice", "198.51.100.1", "", "alice", 401, ""},
			{"bob's cookie, header names alice", "203.0.113.9", "bob", "alice", 200, "bob"},
			{"alice again, header names carol", "203.0.113.7", "alice", "carol", 403, ""},
		}},
		{"undeclared", "", []step{
			{"alice buys with her cookie", "203.0.113.7", "alice", "", 200, "alice"},
			{"no cookie, header names alice", "203.0.113.8", "", "alice", 401, ""},
			{"bob's cookie, header names alice", "203.0.113.9", "bob", "alice", 200, "bob"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so := startShop(t, demo.Options{Items: 3, Stock: 100})
			g, _ := fileGateway(t, strings.Replace(identityRules, "IDENTITY", tc.identity, 1), so.addr)
			for _, s := range tc.steps {
				var hdr []string
				if s.header != "" {
					hdr = []string{"X-User-Id", s.header}
				}
				r := buy(t, g.client(s.peer), "POST", "/buy/1", s.uid, hdr...)
				var body struct{ User string }
				_ = json.Unmarshal(r.Body(), &body)
				if r.StatusCode() != s.status || body.User != s.user {
					t.Errorf("%s: %d %s, want %d booked to %q", s.name, r.StatusCode(), r.Body(), s.status, s.user)
				}
			}
		})
	}
}

// TestIdentityWarnings: -check warns where a filter keys on one identity
// while the route's origin reads the user from another, and says nothing
// for the shipped gateway.yaml.
func TestIdentityWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, identity, key, want string
	}{
		{"limit on the cookie, header set from another header", `{header: X-User-Id, from: "header:X-Api-User"}`, "cookie:uid",
			`purchase_limit keys on cookie:uid, but the origin reads the user from X-User-Id, which the gateway sets from header:X-Api-User`},
		{"limit on the header the gateway replaces", `{header: x-user-id, from: "cookie:uid"}`, "header:X-User-Id",
			`purchase_limit keys on header:X-User-Id, but the gateway removes X-User-Id before the origin sees it`},
		{"limit on the header the gateway only removes", `{header: X-User-Id}`, "header:x-user-id",
			`set from (nothing)`},
		{"agreeing", `{header: X-User-Id, from: "cookie:uid"}`, "cookie:uid", ""},
		{"limit on the address", `{header: X-User-Id, from: "cookie:uid"}`, "ip", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(identityRules, "IDENTITY", "    identity: ["+tc.identity+"]", 1)
			text = strings.Replace(text, `key: "cookie:uid"`, `key: "`+tc.key+`"`, 1)
			cfg, err := rules.LoadBytes("gateway.yaml", []byte(strings.Replace(text, "%s", "127.0.0.1:1", 1)))
			if err != nil {
				t.Fatal(err)
			}
			ws := IdentityWarnings(cfg)
			if tc.want == "" {
				if len(ws) != 0 {
					t.Fatalf("warnings %q, want none", ws)
				}
				return
			}
			if len(ws) != 1 || !strings.Contains(ws[0], tc.want) || !strings.HasPrefix(ws[0], "gateway.yaml:") || !strings.Contains(ws[0], `route "buy"`) {
				t.Fatalf("warnings %q, want one at gateway.yaml:line:col naming route buy and %q", ws, tc.want)
			}
		})
	}
	cfg, err := rules.Load("../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ws := IdentityWarnings(cfg); len(ws) != 0 {
		t.Errorf("the shipped gateway.yaml warns: %q", ws)
	}
}
