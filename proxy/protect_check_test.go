package proxy

import (
	"strings"
	"testing"

	"flashgate/rules"
)

// TestProtectCheckErrors: -check (Check) reports every bad hotspot and
// fallback setting with file:line:col, the key and what is allowed.
func TestProtectCheckErrors(t *testing.T) {
	cfg, err := rules.LoadBytes("gateway.yaml", []byte(`hotspot:
  share: 150%
  keys: [param, ip, user]
  static: [{kind: item, key: "7"}]
  top: 5000
origins:
  shop: {servers: [127.0.0.1:9]}
routes:
  - name: a
    path: /a
    origin: shop
    fallback: {body: x, file: /x}
  - name: b
    path: /b
    origin: shop
    fallback: {origin: shop}
  - name: c
    path: /c
    origin: shop
    fallback: {origin: nowhere, status: 99}
  - name: d
    path: /d
    origin: shop
    fallback: {file: /nonexistent/busy.html}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(cfg)
	if err == nil {
		t.Fatal("Check accepted bad protection settings")
	}
	for _, want := range []string{
		`gateway.yaml:2:10: hotspot.share: bad share "150%": want a percentage such as 5% (or a fraction 0 < f <= 1)`,
		`hotspot.keys[1]: unknown key kind "ip" (known: param, url, user, client)`,
		`hotspot.user: keys has user: want exactly one of user.cookie or user.header naming the identity`,
		`hotspot.static[0]: want {kind: param|url|user|client, key: ...}`,
		`hotspot.top: 5000: want at most 1024`,
		`gateway.yaml:12:15: routes[0].fallback: want exactly one of body, file or origin (got 2)`,
		`routes[1].fallback.origin: origin "shop" is the route's own origin: a fallback must be another`,
		`routes[2].fallback.status: status 99: want 200-599`,
		`routes[3].fallback.file: stat /nonexistent/busy.html: no such file or directory`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check errors lack\n  %s\nin:\n%v", want, err)
		}
	}
	cfg, err = rules.LoadBytes("gateway.yaml", []byte("hotspot: {sample: 2}\norigins: {shop: {servers: [127.0.0.1:9]}}\nroutes: [{name: a, path: /a, origin: shop}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "gateway.yaml:1:10: hotspot.rate: missing: want rate (e.g. rate: 200/s) or share (e.g. share: 5%), or both"
	if err := Check(cfg); err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %s", err, want)
	}
}

// TestHotspotWarnings: -check warns where detection would count nothing.
func TestHotspotWarnings(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"hotspot: {share: 5%, param: sku}\norigins: {shop: {servers: [127.0.0.1:9]}}\nroutes: [{name: item, path: \"/item/{id}\", origin: shop}, {name: home, path: /, origin: shop}]\n",
			`gateway.yaml:3:10: route "item": hotspot.param "sku" is not a parameter of /item/{id} (it has id): its items are not counted`},
		{"hotspot: {share: 5%, keys: [param]}\norigins: {shop: {servers: [127.0.0.1:9]}}\nroutes: [{name: home, path: /, origin: shop}]\n",
			"gateway.yaml:1:10: hotspot.keys counts only route parameters, and no route has one: nothing is counted (add url, user or client)"},
		{"hotspot: {share: 5%, param: id}\norigins: {shop: {servers: [127.0.0.1:9]}}\nroutes: [{name: item, path: \"/item/{id}\", origin: shop}]\n", ""},
	} {
		cfg, err := rules.LoadBytes("gateway.yaml", []byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(HotspotWarnings(cfg), "\n")
		if got != tt.want {
			t.Errorf("HotspotWarnings = %q, want %q", got, tt.want)
		}
	}
}
