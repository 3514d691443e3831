package cache

import (
	"strings"
	"testing"
	"time"

	"flashgate/rules"
)

// loadRule loads a rule file holding one route with the given cache node
// and a top-level cache node.
func loadRule(t *testing.T, top, route string) *rules.Config {
	t.Helper()
	src := "origins:\n  shop: {servers: [\"127.0.0.1:9\"]}\n" + top +
		"routes:\n  - name: item\n    path: /item/{id}\n    origin: shop\n" + route
	cfg, err := rules.LoadBytes("gateway.yaml", []byte(src))
	if err != nil {
		t.Fatalf("rule file did not load: %v\n%s", err, src)
	}
	return cfg
}

func TestDecodePolicy(t *testing.T) {
	cfg := loadRule(t, "cache: {max_bytes: 64MiB, max_object: 2MiB, hit_for_miss: 3s}\n", `    cache:
      ttl: 30s
      stale_while_revalidate: 10s
      stale_if_error: 5m
      negative_ttl: 5s
      key: {query: [sku, page, sku], headers: [X-Lang, x-lang], cookies: [currency]}
      session_cookies: [sid]
      cdn: {cache_control: "public, s-maxage=60, max-age=10"}
      tags: ["item:{id}"]
      coalesce_timeout: 2s
`)
	p, err := DecodePolicy(cfg.Routes[0].Cache)
	if err != nil {
		t.Fatal(err)
	}
	if p.ttl != int64(30*time.Second) || p.swr != int64(10*time.Second) || p.sie != int64(5*time.Minute) ||
		p.negTTL != int64(5*time.Second) || p.coalesce != 2*time.Second {
		t.Errorf("durations decoded wrong: %+v", p)
	}
	if strings.Join(p.queryNames, ",") != "page,sku" || len(p.headerNames) != 1 || p.headerNames[0] != "x-lang" || p.cookieNames[0] != "currency" {
		t.Errorf("key decoded wrong: query %v headers %v cookies %v", p.queryNames, p.headerNames, p.cookieNames)
	}
	if string(p.cdnCC) != "public, s-maxage=60, max-age=10" || len(p.tags) != 1 || p.sessionCookies[0] != "sid" {
		t.Errorf("cdn/tags/session decoded wrong: %q %v %v", p.cdnCC, p.tags, p.sessionCookies)
	}
	o, err := DecodeOptions(cfg.Cache)
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxBytes != 64<<20 || o.MaxObject != 2<<20 || o.HitForMiss != 3*time.Second {
		t.Errorf("options decoded wrong: %+v", o)
	}
}

func TestDecodePolicyQueryWords(t *testing.T) {
	for _, tc := range []struct {
		node    string
		wantAll bool
	}{{"all", true}, {"none", false}} {
		cfg := loadRule(t, "", "    cache: {ttl: 1s, key: {query: "+tc.node+"}}\n")
		p, err := DecodePolicy(cfg.Routes[0].Cache)
		if err != nil || p.queryAll != tc.wantAll {
			t.Errorf("query: %s: all=%v err=%v, want all=%v", tc.node, p != nil && p.queryAll, err, tc.wantAll)
		}
	}
	cfg := loadRule(t, "", "    cache: off\n")
	if p, err := DecodePolicy(cfg.Routes[0].Cache); p != nil || err != nil {
		t.Errorf("cache: off gave %v, %v; want no policy and no error", p, err)
	}
}

// TestDecodePolicyErrors: every mistake is reported at its key, all at once.
func TestDecodePolicyErrors(t *testing.T) {
	cases := []struct {
		node string
		want []string
	}{
		{"{ttl: 1s, tll: 2s}", []string{`gateway.yaml:7:22: routes[0].cache.tll: unknown key "tll" (allowed: ttl, ttl_from_origin`}},
		{"{stale_if_error: 1m}", []string{`gateway.yaml:7:12: routes[0].cache.ttl: required (or set ttl_from_origin: true)`}},
		{"{ttl: 1s, key: {query: sometimes}}", []string{`routes[0].cache.key.query: unknown value "sometimes" (allowed: all, none, or a list of names)`}},
		{"{ttl: 1s, key: {query: {a: 1}}}", []string{`routes[0].cache.key.query: want all, none or a list of parameter names`}},
		{"{ttl: 1s, private: {cookie: sid, header: Authorization}}", []string{`routes[0].cache.private: set either cookie or header, not both`}},
		{"{ttl: 1s, tags: [\"item:{id\"]}", []string{`routes[0].cache.tags[0]: unclosed "{" in "item:{id"`}},
		{"{ttl: -1s, negative_ttl: -2s}", []string{`gateway.yaml:7:18: routes[0].cache.ttl: negative duration "-1s"`,
			`gateway.yaml:7:37: routes[0].cache.negative_ttl: negative duration "-2s"`}},
		{"sometimes", []string{`routes[0].cache: want off or a mapping of cache settings, got "sometimes"`}},
	}
	for _, tc := range cases {
		cfg := loadRule(t, "", "    cache: "+tc.node+"\n")
		_, err := DecodePolicy(cfg.Routes[0].Cache)
		if err == nil {
			t.Errorf("%s: no error, want %q", tc.node, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\nwant it to contain\n%s", tc.node, err, w)
			}
		}
	}
}

func TestDecodeOptionsErrors(t *testing.T) {
	cfg := loadRule(t, "cache: {max_bytes: 1MiB, max_object: 2MiB}\n", "")
	_, err := DecodeOptions(cfg.Cache)
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml:3:26: cache.max_object: 2097152 bytes exceeds max_bytes (1048576)") {
		t.Fatalf("err = %v", err)
	}
}
