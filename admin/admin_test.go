package admin

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// endpoints lists a call per API endpoint, read-only or changing.
var endpoints = []struct {
	method, path, body string
	mutating           bool
}{
	{"GET", "/api/status", "", false},
	{"GET", "/api/overview", "", false},
	{"GET", "/api/rules", "", false},
	{"GET", "/api/items", "", false},
	{"GET", "/api/items/buy/7", "", false},
	{"GET", "/api/queues", "", false},
	{"GET", "/api/origins", "", false},
	{"GET", "/api/orders", "", false},
	{"GET", "/api/hotkeys", "", false},
	{"GET", "/api/switches", "", false},
	{"GET", "/metrics", "", false},
	{"POST", "/api/reload", "", true},
	{"POST", "/api/purge", `{"tag": "item:1"}`, true},
	{"POST", "/api/items/buy/7", `{"add": 1}`, true},
	{"POST", "/api/queues/sale/pause", "", true},
	{"POST", "/api/queues/sale/resume", "", true},
	{"POST", "/api/switches", `{"kind": "close", "route": "item", "message": "Back at 20:00"}`, true},
	{"DELETE", "/api/switches/close:item", "", true},
}

func TestEveryEndpointOnLoopback(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	for _, e := range endpoints {
		url := g.admin + e.path
		if e.mutating {
			if a := call(t, e.method, url, "", e.body); a.status != http.StatusUnauthorized || a.errorCode() != "unauthorized" {
				t.Errorf("%s %s without the token: %d %s, want 401 unauthorized", e.method, e.path, a.status, a.body)
			}
			if a := call(t, e.method, url, "wrong-token-0123456789", e.body); a.status != http.StatusUnauthorized {
				t.Errorf("%s %s with a wrong token: %d, want 401", e.method, e.path, a.status)
			}
		} else if a := call(t, e.method, url, "", ""); a.status != http.StatusOK {
			t.Errorf("%s %s without the token on loopback: %d %s, want 200", e.method, e.path, a.status, a.body)
		}
		if a := call(t, e.method, url, testToken, e.body); a.status != http.StatusOK {
			t.Errorf("%s %s with the token: %d %s, want 200", e.method, e.path, a.status, a.body)
		}
	}
}

func TestBeyondLoopbackEveryCallNeedsTheToken(t *testing.T) {
	if _, err := New(Options{Gateway: startGateway(t, "127.0.0.1:0", "").gw, Listen: "0.0.0.0:0"}); err == nil ||
		!strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("New on 0.0.0.0 without a token: %v, want a refusal", err)
	}
	g := startGateway(t, "0.0.0.0:0", testToken)
	for _, e := range endpoints {
		url := g.admin + e.path
		if a := call(t, e.method, url, "", e.body); a.status != http.StatusUnauthorized {
			t.Errorf("%s %s without the token beyond loopback: %d, want 401", e.method, e.path, a.status)
		}
		if a := call(t, e.method, url, testToken, e.body); a.status != http.StatusOK {
			t.Errorf("%s %s with the token: %d %s", e.method, e.path, a.status, a.body)
		}
	}
	// The page and its assets hold no data: they load, and ask for the token.
	if a := call(t, "GET", g.admin+"/", "", ""); a.status != 200 || !strings.Contains(a.body, "admin token") {
		t.Errorf("GET / beyond loopback: %d", a.status)
	}
}

func TestChangesNeedAConfiguredToken(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", "")
	a := call(t, "POST", g.admin+"/api/purge", "", `{"all": true}`)
	if a.status != http.StatusForbidden || a.errorCode() != "no_token_configured" {
		t.Fatalf("a change without any token configured: %d %s", a.status, a.body)
	}
}

func TestBadInputAnswers(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code, msg          string
	}{
		{"POST", "/api/purge", `{"tag": `, 400, "bad_json", "request body: unexpected EOF"},
		{"POST", "/api/purge", `{"tga": "x"}`, 400, "bad_json", `unknown field "tga"`},
		{"POST", "/api/purge", ``, 400, "bad_json", "empty body"},
		{"POST", "/api/purge", `{"tag": "a", "all": true}`, 400, "bad_request", "exactly one of"},
		{"POST", "/api/purge", `{"url": "/item/7"}`, 400, "bad_request", "want an absolute URL"},
		{"POST", "/api/items/buy/7", `{"set": -1}`, 400, "bad_request", "must be 0 or more"},
		{"POST", "/api/items/buy/7", `{"set": 1, "add": 2}`, 400, "bad_request", "exactly one of"},
		{"POST", "/api/items/buy/7", `{"set": "ten"}`, 400, "bad_json", "cannot unmarshal"},
		{"POST", "/api/items/nope/7", `{"set": 1}`, 404, "not_found", `route "nope" has no stock filter`},
		{"GET", "/api/items/buy/8", "", 404, "not_found", `no stock number for item "8"`},
		{"POST", "/api/items/buy/8", `{"reset": true}`, 404, "not_found", `give item "8" no stock`},
		{"POST", "/api/queues/nope/pause", "", 404, "not_found", `no waiting room named "nope"`},
		{"POST", "/api/switches", `{"kind": "close", "route": "nope"}`, 400, "bad_request", `unknown route "nope"`},
		{"POST", "/api/switches", `{"kind": "melt", "route": "item"}`, 400, "bad_request", `unknown switch kind "melt"`},
		{"POST", "/api/switches", `{"kind": "scale", "route": "item", "factor": 50}`, 400, "bad_request", "want 0 < factor <= 10"},
		{"POST", "/api/switches", `{"kind": "down", "origin": "shop", "server": "10.9.9.9:1"}`, 400, "bad_request", `no server "10.9.9.9:1"`},
		{"POST", "/api/switches", `{"knd": "close"}`, 400, "bad_json", `unknown field "knd"`},
		{"DELETE", "/api/switches/close:item", "", 404, "not_found", "no such switch"},
		{"GET", "/api/nothing", "", 404, "not_found", "no admin API at /api/nothing"},
		{"DELETE", "/api/status", "", 405, "method_not_allowed", "allowed GET"},
		{"GET", "/nothing", "", 404, "not_found", "nothing at /nothing"},
	} {
		a := call(t, tc.method, g.admin+tc.path, testToken, tc.body)
		if a.status != tc.status || a.errorCode() != tc.code || !strings.Contains(a.errorMessage(), tc.msg) {
			t.Errorf("%s %s %s: %d %s, want %d %s with %q", tc.method, tc.path, tc.body, a.status, a.body, tc.status, tc.code, tc.msg)
		}
	}
}

// A purge and a stock change made through the admin API are what the
// public port answers next; every change is logged.
func TestChangesTakeEffectOnThePublicPort(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	call(t, "GET", g.public+"/item/3", "", "")
	// The cache stores asynchronously (ristretto): poll for the hit.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		a := call(t, "GET", g.public+"/item/3", "", "")
		if a.header.Get("X-Cache") == "HIT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET after GET: X-Cache %q for 5s, want HIT", a.header.Get("X-Cache"))
		}
	}
	if a := call(t, "POST", g.admin+"/api/purge", testToken, `{"tag": "item:3"}`); a.status != 200 || a.json["purged"] != 1.0 {
		t.Fatalf("purge: %d %s", a.status, a.body)
	}
	if a := call(t, "GET", g.public+"/item/3", "", ""); a.header.Get("X-Cache") == "HIT" || g.originHits("/item/3") != 2 {
		t.Fatalf("after the purge: X-Cache %q, origin asked %d times, want a miss", a.header.Get("X-Cache"), g.originHits("/item/3"))
	}

	for i := range 2 {
		if a := call(t, "POST", g.public+"/buy/7", "", ""); a.status != 200 {
			t.Fatalf("buy %d: %d %s", i, a.status, a.body)
		}
	}
	if a := call(t, "POST", g.public+"/buy/7", "", ""); a.status != 410 {
		t.Fatalf("buy beyond the stock: %d, want 410", a.status)
	}
	a := call(t, "POST", g.admin+"/api/items/buy/7", testToken, `{"set": 5}`)
	if a.status != 200 || a.json["stock"] != 5.0 || a.json["left"] != 5.0 {
		t.Fatalf("set stock: %d %s", a.status, a.body)
	}
	if a := call(t, "POST", g.public+"/buy/7", "", ""); a.status != 200 {
		t.Fatalf("buy after the stock was set to 5: %d %s", a.status, a.body)
	}
	if a := call(t, "GET", g.admin+"/api/items/buy/7", "", ""); a.json["taken"] != 1.0 || a.json["left"] != 4.0 {
		t.Fatalf("item after one more buy: %s", a.body)
	}
	for _, want := range []string{`msg="admin: purge"`, `tag=item:3`, `entries=1`, `msg="admin: stock"`, `route=buy item=7 set=5`, `by=127.0.0.1:`} {
		if !strings.Contains(g.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, g.logs.String())
		}
	}
}

func TestPausedQueueAdmitsNobody(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	if a := call(t, "POST", g.admin+"/api/queues/sale/pause", testToken, ""); a.status != 200 || a.json["paused"] != true {
		t.Fatalf("pause: %d %s", a.status, a.body)
	}
	if a := call(t, "POST", g.public+"/buy/7", "", ""); a.status != 503 || !strings.Contains(a.body, "queued") {
		t.Fatalf("buy while the line is paused: %d %s, want 503 queued", a.status, a.body)
	}
	call(t, "POST", g.admin+"/api/queues/sale/resume", testToken, "")
	if a := call(t, "POST", g.public+"/buy/7", "", ""); a.status != 200 {
		t.Fatalf("buy after resuming: %d %s", a.status, a.body)
	}
}

// Nothing of the admin listener answers on the public port.
func TestNoAdminOnThePublicPort(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	for _, e := range endpoints {
		a := call(t, e.method, g.public+e.path, testToken, e.body)
		if a.status < 400 || strings.Contains(a.body, "flashgate_") || strings.Contains(a.body, `"version"`) {
			t.Errorf("public %s %s: %d %.80s", e.method, e.path, a.status, a.body)
		}
	}
	if a := call(t, "GET", g.public+"/", "", ""); strings.Contains(a.body, "admin token") {
		t.Errorf("the dashboard answers on the public port")
	}
}

func TestRulesAreRedacted(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	a := call(t, "GET", g.admin+"/api/rules", "", "")
	y, _ := a.json["yaml"].(string)
	if !strings.Contains(y, "name: buy") || !strings.Contains(y, "stock:") {
		t.Fatalf("rules: %s", a.body)
	}
}

// docs/admin.md documents every endpoint of the table, with a curl.
func TestEveryEndpointDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	a := &Admin{}
	for _, r := range a.routes() {
		for m := range r.methods {
			if !strings.Contains(string(doc), "`"+m+" "+r.pattern+"`") {
				t.Errorf("docs/admin.md has no section for `%s %s`", m, r.pattern)
			}
		}
		curl := strings.NewReplacer("{route}", "singles-day-buy", "{item}", "7", "{name}", "singles-day",
			"{name...}", "close:singles-day-buy").Replace(r.pattern)
		if !strings.Contains(string(doc), "$A"+curl) {
			t.Errorf("docs/admin.md has no curl example of %s", curl)
		}
	}
}

// On loopback the API answers only to Host names of this machine, so a
// page whose name resolves to 127.0.0.1 cannot read it (DNS rebinding).
func TestLoopbackRefusesForeignHost(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	a := call(t, "GET", g.admin+"/api/status", "", "", "Host", "evil.example")
	if a.status != http.StatusForbidden || a.errorCode() != "bad_host" {
		t.Fatalf("Host evil.example: %d %s, want 403 bad_host", a.status, a.body)
	}
	for _, host := range []string{"localhost:9090", "127.0.0.1", "[::1]:9090"} {
		if a := call(t, "GET", g.admin+"/api/status", "", "", "Host", host); a.status != 200 {
			t.Errorf("Host %s: %d", host, a.status)
		}
	}
}

// A switch set through the admin API changes what the public port
// answers, shows in the list and the logs, and clears.
func TestSwitchTakesEffectOnThePublicPort(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	a := call(t, "POST", g.admin+"/api/switches", testToken, `{"kind": "close", "route": "item", "message": "Back at 20:00"}`)
	if a.status != 200 || a.json["kind"] != "close" || a.json["since"] == nil {
		t.Fatalf("set: %d %s", a.status, a.body)
	}
	if a := call(t, "GET", g.public+"/item/1", "", ""); a.status != 503 || !strings.Contains(a.body, "Back at 20:00") {
		t.Fatalf("closed route: %d %s", a.status, a.body)
	}
	if a := call(t, "GET", g.admin+"/api/switches", "", ""); len(a.list) != 1 {
		t.Fatalf("switches: %s", a.body)
	}
	if a := call(t, "DELETE", g.admin+"/api/switches/close:item", testToken, ""); a.status != 200 || len(a.list) != 0 {
		t.Fatalf("clear: %d %s", a.status, a.body)
	}
	if a := call(t, "GET", g.public+"/item/1", "", ""); a.status != 200 {
		t.Fatalf("after clearing: %d %s", a.status, a.body)
	}
	for _, want := range []string{`msg="admin: switch on" switch=close:item`, `msg="admin: switch off" switch=close:item`} {
		if !strings.Contains(g.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	hot := call(t, "GET", g.admin+"/api/hotkeys", "", "")
	if len(hot.list) != 1 || !strings.Contains(hot.body, `"key": "item:7"`) {
		t.Errorf("hot keys: %s, want the static item:7", hot.body)
	}
	o := call(t, "GET", g.admin+"/api/origins", "", "")
	if len(o.list) != 1 || !strings.Contains(o.body, `"healthy": true`) || !strings.Contains(o.body, `"max_conns": 512`) {
		t.Errorf("origins: %s", o.body)
	}
}
