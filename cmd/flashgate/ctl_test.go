package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

const ctlTestRules = `server: {listen: "127.0.0.1:0", shutdown_timeout: 5s}
logging: {level: warn}
admin: {listen: "127.0.0.1:0", token_file: admin-token}
hotspot: {rate: 1000/s, static: [{kind: param, key: "item:7"}]}
origins:
  shop: {servers: [%s]}
routes:
  - {name: page, path: "/page/{id}", origin: shop, cache: {ttl: 60s, tags: ["page:{id}"]}}
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - queue: {group: sale, admit_rate: 1000/s}
      - stock: {stock: {"7": 1}, sold_out: {status: 409}}
  - {name: order, methods: [POST], path: "/order/{id}", origin: shop, async: {rate: 1000/s, concurrency: 4}}
`

var adminLine = regexp.MustCompile(`admin dashboard\s+http://([0-9.:]+)/(#token=\S+)?`)

// TestCtlAgainstARunningGateway runs the real command with an admin
// section, then drives it with `flashgate ctl` as an operator would: the
// address from the environment, the token from the rules file.
func TestCtlAgainstARunningGateway(t *testing.T) {
	origin := startOrigin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(ctlTestRules, origin))

	var stdout, stderr fgtest.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"-config", path}, &stdout, &stderr) }()
	public := waitForAddr(t, &stdout, exit)
	m := adminLine.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no admin dashboard address printed: %q", stdout.String())
	}
	token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil || len(bytes.TrimSpace(token)) < 16 {
		t.Fatalf("admin token file: %q %v", token, err)
	}
	if m[2] != "#token="+strings.TrimSpace(string(token)) {
		t.Errorf("the dashboard address does not carry the token the gateway created: %q", m[0])
	}
	t.Setenv("FLASHGATE_ADMIN_ADDR", m[1])

	ctlRun := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"ctl", "-config", path}, args...), &out, &errOut); code != want {
			t.Fatalf("ctl %s: exit %d, want %d; stdout %q stderr %q", strings.Join(args, " "), code, want, out.String(), errOut.String())
		}
		return out.String() + errOut.String()
	}
	contains := func(got string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("output lacks %q:\n%s", w, got)
			}
		}
	}
	c := &fasthttp.Client{}
	post := func(uri string) int {
		t.Helper()
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + public + uri)
		if err := c.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}

	contains(ctlRun(0, "status"), "flashgate ", "3 routes, 1 origins", "last reload: ok at")

	if code := post("/buy/7"); code != 200 {
		t.Fatalf("first buy: %d", code)
	}
	if code := post("/buy/7"); code != 410 {
		t.Fatalf("buy beyond the stock: %d, want 410", code)
	}
	contains(ctlRun(0, "stock", "7"), "buy", "all claimed")
	contains(ctlRun(0, "stock", "7", "--set", "3"), "ITEM", "buy     7      3       3      0     3  on sale")
	if code := post("/buy/7"); code != 200 {
		t.Fatalf("buy after ctl stock --set 3: %d", code)
	}
	contains(ctlRun(0, "stock", "buy", "7", "--add", "2"), "buy     7      5")
	contains(ctlRun(1, "stock", "nope", "7", "--set", "1"), `route "nope" has no stock filter (not_found)`)
	contains(ctlRun(2, "stock", "7", "--set", "1", "--add", "1"), "give one of --set, --add or --reset")

	code, _, _ := c.Get(nil, "http://"+public+"/page/1")
	if code != 200 {
		t.Fatalf("page: %d", code)
	}
	contains(ctlRun(0, "purge", "--tag", "page:1"), "purged: 1 entries removed")
	contains(ctlRun(0, "purge", "--all", "--soft"), "marked stale as they are looked up")

	contains(ctlRun(0, "queue", "sale", "--pause"), "sale", "PAUSED")
	contains(ctlRun(0, "queues"), "QUEUE", "PAUSED")
	contains(ctlRun(0, "queue", "--resume", "sale"), "open")

	var items []map[string]any
	if err := json.Unmarshal([]byte(ctlRun(0, "-json", "items")), &items); err != nil || len(items) != 1 || items[0]["item"] != "7" {
		t.Errorf("ctl -json items: %v %v", items, err)
	}
	contains(ctlRun(0, "rules"), "name: buy")
	contains(ctlRun(0, "origins"), "ORIGIN", "shop", origin, "up")
	if code := post("/order/1"); code != 202 {
		t.Fatalf("purchase into the order queue: %d", code)
	}
	contains(ctlRun(0, "orders"), "ROUTE", "IN DELIVERY", "order", "1000/s", "memory")
	contains(ctlRun(0, "hotkeys"), "KIND", "item:7", "static")

	contains(ctlRun(0, "switch", "close", "page", "--message", "Back at 20:00"), "close:page", "Back at 20:00")
	if code, body, _ := c.Get(nil, "http://"+public+"/page/2"); code != 503 || !bytes.Contains(body, []byte("Back at 20:00")) {
		t.Errorf("closed route: %d %s", code, body)
	}
	contains(ctlRun(0, "switch"), "SWITCH", "close:page")
	contains(ctlRun(0, "switch", "down", "shop", origin), "server:shop/"+origin)
	contains(ctlRun(0, "origins"), "DOWN (operator)")
	contains(ctlRun(0, "switch", "off", "server:shop/"+origin), "close:page")
	contains(ctlRun(0, "switch", "off", "close:page"), "no switch on")
	contains(ctlRun(1, "switch", "off", "close:page"), "(not_found)")
	contains(ctlRun(1, "switch", "scale", "page", "--factor", "99"), "want 0 < factor <= 10")
	contains(ctlRun(2, "switch", "off"), "usage: switch")
	contains(ctlRun(0, "reload"), "reloaded: rules loaded at")
	contains(ctlRun(1, "-token", "wrong-token-0123456789", "purge", "--all"), "(unauthorized)")
	contains(ctlRun(2, "frobnicate"), `unknown command "frobnicate"`)
	contains(ctlRun(1, "-addr", "127.0.0.1:1", "status"), "cannot reach the admin listener at http://127.0.0.1:1")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flashgate did not stop after SIGTERM")
	}
}
