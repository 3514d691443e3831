package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flashgate/demo"
	"flashgate/rules"
)

const bypassRules = `
server: {case_insensitive: true}
origins:
  shop: {servers: ["%s"]}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit: {rate: 1/m, key: "cookie:uid"}
      - stock: {stock: {"1": 100, "2": 100, "3": 100}, sold_out: {header: X-Sold-Out}}
`

// spellings are paths a case-insensitive origin reads as /buy/<id>.
func spellings(id string) []string {
	return []string{
		"/BUY/" + id, "/Buy/" + id, "/buy//" + id, "/buy/%3" + id, "/buy/./" + id,
		"/buy;x=y/" + id, "/x/../buy/" + id, "/buy/0" + id, "/buy/" + id + "/", "/buy./" + id,
	}
}

// TestNoWayAround: every spelling of the purchase URL that the origin
// reads as /buy/1 meets the filters /buy/1 meets, with the same state, and
// no other method reaches the buy handler at all.
func TestNoWayAround(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100, CaseInsensitive: true})
	g, _ := fileGateway(t, bypassRules, so.addr)
	c := g.client("203.0.113.7")

	// Shared rate-limit state: alice's one purchase a minute is spent by
	// /buy/1, so every other spelling is limited too.
	if r := buy(t, c, "POST", "/buy/1", "alice"); r.StatusCode() != 200 {
		t.Fatalf("first purchase: %d %s", r.StatusCode(), r.Body())
	}
	for _, p := range spellings("1") {
		r := buy(t, c, "POST", p, "alice")
		if r.StatusCode() != 429 || string(r.Header.Peek("X-Flashgate-Filter")) != "ratelimit" {
			t.Errorf("POST %s after /buy/1: %d filter %q, want 429 from ratelimit", p, r.StatusCode(), r.Header.Peek("X-Flashgate-Filter"))
		}
	}
	if n := so.buys.Load(); n != 1 {
		t.Errorf("the shop saw %d purchase attempts, want 1", n)
	}

	// Sold out, learned from the shop once, is answered at the edge for
	// every spelling.
	so.shop.SetStock(2, 0)
	if r := buy(t, c, "POST", "/buy/2", "bob"); r.StatusCode() != 409 {
		t.Fatalf("purchase of an empty item: %d %s, want the shop's 409", r.StatusCode(), r.Body())
	}
	before := so.buys.Load()
	for i, p := range spellings("2") {
		r := buy(t, c, "POST", p, fmt.Sprintf("carol%d", i))
		if string(r.Header.Peek("X-Flashgate-Filter")) != "stock" {
			t.Errorf("POST %s of a sold-out item: %d filter %q, want the stock gate's answer", p, r.StatusCode(), r.Header.Peek("X-Flashgate-Filter"))
		}
	}
	if n := so.buys.Load() - before; n != 0 {
		t.Errorf("%d attempts on a sold-out item reached the shop, want 0", n)
	}

	// Every other method is a 405 at the edge, whatever the spelling.
	before = so.buys.Load()
	for _, m := range []string{"GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BUY", "post"} {
		for _, p := range append(spellings("3"), "/buy/3") {
			if r := buy(t, c, m, p, "dave"); r.StatusCode() != 405 {
				t.Errorf("%s %s: %d, want 405 at the edge", m, p, r.StatusCode())
			}
		}
	}
	if n := so.buys.Load() - before; n != 0 {
		t.Errorf("%d requests of other methods reached the shop's buy handler, want 0", n)
	}
}

// TestRejectionFormats: a rejection through the server is JSON for API
// clients and HTML for browsers, with the status, Retry-After, the
// filter's name and no-store.
func TestRejectionFormats(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	g, _ := fileGateway(t, bypassRules, so.addr)
	c := g.client("203.0.113.7")
	buy(t, c, "POST", "/buy/1", "erin")

	tests := []struct {
		accept, wantType, wantBody string
	}{
		{"application/json", "application/json", `"error":"rate_limited"`},
		{"text/html,application/xhtml+xml,*/*;q=0.8", "text/html", "<html"},
	}
	for _, tt := range tests {
		r := buy(t, c, "POST", "/buy/1", "erin", "Accept", tt.accept)
		h := &r.Header
		if r.StatusCode() != 429 {
			t.Errorf("Accept %s: status %d, want 429", tt.accept, r.StatusCode())
		}
		if got := string(h.ContentType()); !strings.HasPrefix(got, tt.wantType) {
			t.Errorf("Accept %s: Content-Type %q, want %s", tt.accept, got, tt.wantType)
		}
		if !bytes.Contains(r.Body(), []byte(tt.wantBody)) {
			t.Errorf("Accept %s: body %q lacks %s", tt.accept, r.Body(), tt.wantBody)
		}
		if string(h.Peek("X-Flashgate-Filter")) != "ratelimit" || len(h.Peek("Retry-After")) == 0 {
			t.Errorf("Accept %s: X-Flashgate-Filter %q Retry-After %q, want ratelimit and a delay",
				tt.accept, h.Peek("X-Flashgate-Filter"), h.Peek("Retry-After"))
		}
		if string(h.Peek("Cache-Control")) != "no-store" {
			t.Errorf("Accept %s: Cache-Control %q, want no-store", tt.accept, h.Peek("Cache-Control"))
		}
	}
	var body struct {
		RetryAfter int `json:"retry_after"`
	}
	r := buy(t, c, "POST", "/buy/1", "erin")
	if err := json.Unmarshal(r.Body(), &body); err != nil || body.RetryAfter < 1 {
		t.Errorf("JSON rejection %q: retry_after %d (%v), want ≥ 1", r.Body(), body.RetryAfter, err)
	}
	if !strings.Contains(g.metricsText(), `flashgate_filter_rejections_total{route="buy",filter="ratelimit",reason="rate_limited"} 3`) {
		t.Errorf("rejections not counted by route, filter and reason")
	}
}

// TestAdmissionStateSurvivesReload: a real reload of the rule file with an
// unrelated edit keeps a full bucket full, a sold-out item sold out and a
// stock set through the Go API.
func TestAdmissionStateSurvivesReload(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	g, path := fileGateway(t, bypassRules, so.addr)
	c := g.client("203.0.113.7")

	buy(t, c, "POST", "/buy/1", "frank")
	so.shop.SetStock(2, 0)
	buy(t, c, "POST", "/buy/2", "grace")
	if err := g.SetStock("buy", "3", 0); err != nil {
		t.Fatalf("SetStock: %v", err)
	}
	if err := g.SetStock("nope", "3", 0); err == nil {
		t.Error("SetStock on a route without a stock gate: no error")
	}

	writeRules(t, path, fmt.Sprintf(bypassRules, so.addr)+`
  - name: catalogue
    methods: [GET]
    path: /
    origin: shop
`)
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if g.Snapshot().Route("catalogue") == nil {
		t.Fatal("the reload did not take effect")
	}
	before := so.buys.Load()
	tests := []struct {
		path, uid, filter string
	}{
		{"/buy/1", "frank", "ratelimit"}, // full bucket stays full
		{"/buy/2", "heidi", "stock"},     // sold out stays sold out
		{"/buy/3", "ivan", "stock"},      // SetStock survives
	}
	for _, tt := range tests {
		r := buy(t, c, "POST", tt.path, tt.uid)
		if got := string(r.Header.Peek("X-Flashgate-Filter")); got != tt.filter {
			t.Errorf("after reload, POST %s as %s: %d filter %q, want rejected by %s", tt.path, tt.uid, r.StatusCode(), got, tt.filter)
		}
	}
	if n := so.buys.Load() - before; n != 0 {
		t.Errorf("%d attempts reached the shop after the reload, want 0", n)
	}
	if r := buy(t, c, "POST", "/buy/1", "judy"); r.StatusCode() != 200 {
		t.Errorf("a new buyer after the reload: %d %s, want 200", r.StatusCode(), r.Body())
	}

	// A broken filter is a positioned error; the rules and state in force
	// keep serving.
	writeRules(t, path, strings.Replace(fmt.Sprintf(bypassRules, so.addr), "ratelimit: {rate: 1/m", "ratelimit: {rate: 1/m, brust: 3", 1))
	err := g.Reload()
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml:") || !strings.Contains(err.Error(), "brust") {
		t.Fatalf("Reload of a misspelt filter key: %v, want a positioned error naming brust", err)
	}
	if r := buy(t, c, "POST", "/buy/1", "frank"); string(r.Header.Peek("X-Flashgate-Filter")) != "ratelimit" {
		t.Errorf("after a rejected reload frank is no longer limited: %d", r.StatusCode())
	}
}

const pageRules = `
admission:
  keys: [{id: 1, secret: "base64:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYnl0ZXM="}]
origins:
  shop: {servers: ["%s"]}
routes:
  - name: quizbuy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - quiz: {}
  - name: waitbuy
    methods: [POST]
    path: /wait/{id}
    origin: shop
    filters:
      - queue: {admit_rate: 1/s}
`

// TestGatewayPages: the quiz and the waiting room's status page are
// served under /_flashgate/ through the server, by the live snapshot.
func TestGatewayPages(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	g, path := fileGateway(t, pageRules, so.addr)
	c := g.client("203.0.113.7")

	r := buy(t, c, "POST", "/buy/1", "kim", "Accept", "text/html")
	if string(r.Header.Peek("X-Flashgate-Filter")) != "quiz" || !bytes.Contains(r.Body(), []byte("/_flashgate/quiz/quizbuy")) {
		t.Errorf("purchase without a quiz pass: %d %q, want the quiz filter's page linking /_flashgate/quiz/quizbuy", r.StatusCode(), r.Body())
	}
	r = buy(t, c, "GET", "/_flashgate/quiz/quizbuy", "kim", "Accept", "text/html")
	if r.StatusCode() != 200 || !bytes.Contains(r.Body(), []byte("<form")) {
		t.Errorf("GET /_flashgate/quiz/quizbuy: %d %q, want the quiz form", r.StatusCode(), r.Body())
	}
	r = buy(t, c, "GET", "/_flashgate/queue/waitbuy/status", "kim")
	if r.StatusCode() == 404 || !bytes.HasPrefix(r.Header.ContentType(), []byte("application/json")) {
		t.Errorf("GET /_flashgate/queue/waitbuy/status: %d %q %q, want the queue's JSON status", r.StatusCode(), r.Header.ContentType(), r.Body())
	}
	if r := buy(t, c, "GET", "/_flashgate/time", ""); !bytes.Contains(r.Body(), []byte(`"now_ms":`)) {
		t.Errorf("GET /_flashgate/time: %q", r.Body())
	}
	if n := so.buys.Load(); n != 0 {
		t.Errorf("%d requests reached the shop's buy handler, want 0", n)
	}

	// Pages follow the snapshot: a reload that drops the quiz drops its page.
	writeRules(t, path, strings.Replace(fmt.Sprintf(pageRules, so.addr), "      - quiz: {}\n", "", 1))
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if r := buy(t, c, "GET", "/_flashgate/quiz/quizbuy", "kim"); r.StatusCode() != 404 {
		t.Errorf("quiz page after the quiz was removed: %d, want 404", r.StatusCode())
	}
}

// TestAdmissionKeys: token keys from the rule file, a file or the
// environment; every mistake is a positioned load error; no keys at all
// is a warning, not an error.
func TestAdmissionKeys(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "k1")
	if err := os.WriteFile(secretFile, []byte("base64:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYnl0ZXM=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FG_TEST_KEY", "a-plain-text-secret-of-32-bytes-at-least")
	tests := []struct {
		name, admission, wantErr string
	}{
		{"file and env", `{keys: [{id: 2, secret_file: "` + secretFile + `"}, {id: 1, secret_env: FG_TEST_KEY}]}`, ""},
		{"short", `{keys: [{id: 1, secret: short}]}`, "admission.keys[0]: key id 1 has 5 bytes, need at least 32"},
		{"no id", `{keys: [{secret_env: FG_TEST_KEY}]}`, "admission.keys[0]: id: missing"},
		{"two secrets", `{keys: [{id: 1, secret: x, secret_env: FG_TEST_KEY}]}`, "exactly one of secret, secret_file, secret_env"},
		{"unset env", `{keys: [{id: 1, secret_env: FG_TEST_NOT_SET}]}`, "environment variable FG_TEST_NOT_SET is not set"},
		{"missing file", `{keys: [{id: 1, secret_file: /nonexistent/k}]}`, "secret_file: open /nonexistent/k"},
		{"duplicate id", `{keys: [{id: 1, secret_env: FG_TEST_KEY}, {id: 1, secret_env: FG_TEST_KEY}]}`, "duplicate key id"},
		{"unknown key", `{keyz: []}`, "keyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			writeRules(t, path, "admission: "+tt.admission+"\n"+fmt.Sprintf(pageRules[strings.Index(pageRules, "origins:"):], "127.0.0.1:9"))
			cfg, err := rules.Load(path)
			if err == nil {
				err = Check(cfg)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), "gateway.yaml:"):
				t.Errorf("error %v is not positioned in the rule file", err)
			}
		})
	}

	so := startShop(t, demo.Options{})
	g, _ := fileGateway(t, pageRules[strings.Index(pageRules, "origins:"):], so.addr)
	if !strings.Contains(g.logs.String(), "admission.keys not set") {
		t.Errorf("no warning about the random token key; logs:\n%s", g.logs.String())
	}
}

const cachedRules = `
origins:
  shop: {servers: ["%s"]}
routes:
  - name: price
    methods: [GET, HEAD]
    path: /frag/price/{id}
    origin: shop
    cache: {ttl: 1m, stale_while_revalidate: 10s, tags: ["item:{id}"]}
    filters:
      - purchase_limit: {max: 2, per: item, success: [200], key: ip}
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - stock: {stock: {"2": 100}, sold_out: {header: X-Sold-Out}}
`

// TestCacheHitsAreReleasedNotObserved: an answer the cache gave without
// the origin must not count as the origin's answer (a cached 200 is no
// purchase); and an item the stock gate learns is sold out has its cached
// pages purged by tag.
func TestCacheHitsAreReleasedNotObserved(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	g, _ := fileGateway(t, cachedRules, so.addr)
	c := g.client("203.0.113.7")

	// max 2 "successes": the MISS counts one; HITs must not count, or the
	// third request would be refused. (The price fragment is fresh for
	// 10 s; the API's s-maxage=1 would make HITs a matter of timing.)
	for i, want := range []string{"MISS", "HIT", "HIT", "HIT"} {
		r := buy(t, c, "GET", "/frag/price/1", "")
		g.env.Cache().Wait() // stores are buffered: let the MISS land
		if r.StatusCode() != 200 || string(r.Header.Peek("X-Cache")) != want {
			t.Errorf("GET %d: %d X-Cache %q filter %q, want 200 %s\n%s", i, r.StatusCode(), r.Header.Peek("X-Cache"), r.Header.Peek("X-Flashgate-Filter"), want, r.Header.String())
		}
	}

	if r := buy(t, c, "GET", "/frag/price/2", ""); string(r.Header.Peek("X-Cache")) != "MISS" {
		t.Fatalf("first GET of item 2: X-Cache %q", r.Header.Peek("X-Cache"))
	}
	g.env.Cache().Wait()
	if r := buy(t, c, "GET", "/frag/price/2", ""); string(r.Header.Peek("X-Cache")) != "HIT" {
		t.Fatalf("second GET of item 2: X-Cache %q, want HIT", r.Header.Peek("X-Cache"))
	}
	so.shop.SetStock(2, 0)
	if r := buy(t, c, "POST", "/buy/2", "lee"); r.StatusCode() != 409 {
		t.Fatalf("purchase of an empty item: %d", r.StatusCode())
	}
	if r := buy(t, c, "GET", "/frag/price/2", ""); string(r.Header.Peek("X-Cache")) == "HIT" {
		t.Errorf("item 2's cached page is still a fresh HIT after it sold out: not purged by tag item:2")
	}
	if !strings.Contains(g.logs.String(), "item sold out at the origin") {
		t.Errorf("sold-out not logged; logs:\n%s", g.logs.String())
	}
}

const deviceRules = `
server: {trusted_proxies: [10.0.0.0/8]}
origins:
  shop: {servers: ["%s"]}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit:
          rate: 100/s
          burst: 100
          key: {use: device, signed: {keys: ["1:base64:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYnl0ZXM="]}}
`

// TestFilterCookiesSecureBehindTLS: a cookie a filter sets (here the
// device cookie) reaches the client with the origin's answer, and is
// Secure exactly when the client came over TLS: a trusted proxy says
// X-Forwarded-Proto: https; an untrusted peer saying so is ignored.
func TestFilterCookiesSecureBehindTLS(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	g, _ := fileGateway(t, deviceRules, so.addr)
	tests := []struct {
		peer, proto string
		secure      bool
	}{
		{"10.0.0.1", "https", true},
		{"10.0.0.1", "https, http", true},
		{"10.0.0.1", "http", false},
		{"203.0.113.7", "https", false}, // not a trusted proxy
	}
	for i, tt := range tests {
		r := buy(t, g.client(tt.peer), "POST", "/buy/1", fmt.Sprintf("mia%d", i),
			"X-Forwarded-Proto", tt.proto, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		var cookie string
		r.Header.VisitAllCookie(func(k, v []byte) {
			if !strings.HasPrefix(string(k), "uid") && !strings.HasPrefix(string(k), "cart") {
				cookie = string(v)
			}
		})
		if r.StatusCode() != 200 || cookie == "" {
			t.Errorf("%s %q: %d, device cookie %q: want 200 with the gateway's cookie", tt.peer, tt.proto, r.StatusCode(), cookie)
			continue
		}
		if got := strings.Contains(strings.ToLower(cookie), "secure"); got != tt.secure {
			t.Errorf("%s %q: cookie %q, Secure = %v, want %v", tt.peer, tt.proto, cookie, got, tt.secure)
		}
	}
}

// TestDroppingAllFilters: a reload that removes every filter releases
// their state: the stock gate's route is no longer known to SetStock, and
// purchases go straight to the shop.
func TestDroppingAllFilters(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	g, path := fileGateway(t, bypassRules, so.addr)
	if err := g.SetStock("buy", "1", 0); err != nil {
		t.Fatalf("SetStock: %v", err)
	}
	text := fmt.Sprintf(bypassRules, so.addr)
	writeRules(t, path, text[:strings.Index(text, "    filters:")])
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if err := g.SetStock("buy", "1", 5); err == nil {
		t.Error("SetStock on a route whose stock filter was removed: no error")
	}
	if r := buy(t, g.client("203.0.113.7"), "POST", "/buy/1", "nick"); r.StatusCode() != 200 {
		t.Errorf("purchase without filters: %d %s, want the shop's 200", r.StatusCode(), r.Body())
	}
}
