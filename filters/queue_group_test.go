package filters

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// saleRules is a sale as a shop runs it: people wait on the item page (a
// GET), the buy form posts to /buy/{id}, which needs the line's pass and a
// quiz pass earned before.
const saleRules = `
  - name: item
    methods: [GET]
    path: /item/{id}
    origin: shop
    filters:
      - queue: {group: sale, max_active: 1, session: 1m}
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - quiz: {group: sale, return: /item/7, min_solve: 1s}
      - queue: {group: sale, mode: require, wait_url: /item/7, revoke_on: [200]}
`

// compiledSale is one committed compile of several routes.
type compiledSale struct {
	chains map[string]*Chain
	pages  map[string]fasthttp.RequestHandler
}

// compileRoutes compiles every route of routesYAML (list items under
// routes:) in one Begin/Commit, as a reload does.
func compileRoutes(t testing.TB, env *Env, routesYAML string) (*compiledSale, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	body := "origins:\n  shop:\n    servers: [\"127.0.0.1:9\"]\nroutes:\n" + routesYAML
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatalf("rules.Load: %v", err)
	}
	if err := env.Begin(cfg.Admission, testKeyring(t)); err != nil {
		t.Fatal(err)
	}
	s := &compiledSale{chains: map[string]*Chain{}}
	var errs []string
	for _, r := range cfg.Routes {
		c, err := CompileWithPages(r.Name, r.Pages, r.Filters, env)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		s.chains[r.Name] = c
	}
	if len(errs) > 0 {
		return nil, &compileError{strings.Join(errs, "\n")}
	}
	s.pages = env.Commit()
	return s, nil
}

type compileError struct{ msg string }

func (e *compileError) Error() string { return e.msg }

func mustSale(t testing.TB, env *Env, routesYAML string) *compiledSale {
	t.Helper()
	s, err := compileRoutes(t, env, routesYAML)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

// send makes one request through ch as client c, keeping its cookies.
func (c *client) send(ch *Chain, path string, now int64, opts ...reqOpt) (Verdict, *Request) {
	opts = append([]reqOpt{withIP(c.ip), at(now)}, opts...)
	for k, v := range c.cookies {
		opts = append(opts, withCookie(k, v))
	}
	v, r := verdictOf(ch, path, opts...)
	c.keep(&r.Ctx.Response)
	return v, r
}

// TestQueueRequire: the buy route checks the pass the item page's line
// hands out, never queues, and names the page where the line is.
func TestQueueRequire(t *testing.T) {
	env := testEnv(t)
	s := mustSale(t, env, strings.Replace(saleRules, "      - quiz: {group: sale, return: /item/7, min_solve: 1s}\n", "", 1))
	item, buy := s.chains["item"], s.chains["buy"]
	bot := newClient(9)
	for i := range 3 {
		v, r := bot.send(buy, "/buy/7", t0+int64(i)*sec)
		if reason(v) != "queue_required" || r.Ctx.Response.StatusCode() != 403 {
			t.Fatalf("POST without a pass: %s %d, want 403 queue_required", reason(v), r.Ctx.Response.StatusCode())
		}
		body := string(r.Ctx.Response.Body())
		if !strings.Contains(body, `href="/item/7"`) || strings.Contains(body, "fg-pos") {
			t.Fatalf("refusal page must link the waiting page and show no place:\n%s", body)
		}
		if bot.cookies[queueTicketCookie] != "" {
			t.Fatal("the buy route handed out a ticket: a POST must never be queued")
		}
	}
	_, r := bot.send(buy, "/buy/7", t0, jsonAccept)
	var got struct {
		Error, WaitURL, StatusURL string
	}
	raw := bytes.ReplaceAll(r.Ctx.Response.Body(), []byte(`"wait_url"`), []byte(`"WaitURL"`))
	raw = bytes.ReplaceAll(raw, []byte(`"status_url"`), []byte(`"StatusURL"`))
	if err := json.Unmarshal(raw, &got); err != nil || got.Error != "queue_required" || got.WaitURL != "/item/7" ||
		got.StatusURL != "/_flashgate/queue/sale/status" {
		t.Fatalf("JSON refusal: %s (%v)", r.Ctx.Response.Body(), err)
	}
	if n := s.room(t).length(); n != 0 {
		t.Fatalf("%d places in line after POSTs without a pass, want 0", n)
	}

	buyer, next := newClient(1), newClient(2)
	if v, _ := buyer.send(item, "/item/7", t0); reason(v) != "pass" || buyer.cookies[queuePassCookie] == "" {
		t.Fatalf("first on the item page: %s", reason(v))
	}
	if v, _ := next.send(item, "/item/7", t0+sec); reason(v) != "queued" {
		t.Fatalf("second on the item page (max_active 1): %s", reason(v))
	}
	if v, r := buyer.send(buy, "/buy/7", t0+2*sec); reason(v) != "pass" {
		t.Fatalf("buy with the line's pass: %s", reason(v))
	} else {
		buy.Release(r) // not forwarded after all: the session's purchase is given back
	}
	thief := newClient(3)
	thief.cookies[queuePassCookie] = buyer.cookies[queuePassCookie]
	if v, _ := thief.send(buy, "/buy/7", t0+2*sec); reason(v) != "queue_required" {
		t.Fatalf("pass copied to another client: %s, want queue_required", reason(v))
	}
	if v, _ := thief.send(buy, "/buy/7", t0+2*sec, withHeader(queuePassHeader, buyer.cookies[queuePassCookie])); reason(v) != "queue_required" {
		t.Fatalf("pass copied into the app header: %s, want queue_required", reason(v))
	}

	// The purchase ends the shared session: the pass opens neither route,
	// and its slot goes to the next in line at once.
	_, r = buyer.send(buy, "/buy/7", t0+3*sec)
	buy.Observe(r, respond(200, "bought"))
	if v, _ := buyer.send(buy, "/buy/7", t0+4*sec); reason(v) != "queue_required" {
		t.Fatalf("buy again after the purchase: %s, want queue_required", reason(v))
	}
	if v, _ := buyer.send(item, "/item/7", t0+4*sec); reason(v) != "queued" {
		t.Fatalf("item page after the purchase: %s, want queued (back of the line)", reason(v))
	}
	if v, _ := next.send(item, "/item/7", t0+4*sec); reason(v) != "pass" {
		t.Fatalf("next in line after the purchase freed the slot: %s", reason(v))
	}
}

// room returns the sale group's waiting room.
func (s *compiledSale) room(t testing.TB) *waitingRoom {
	t.Helper()
	q := s.chains["buy"].filters[len(s.chains["buy"].filters)-1].(*queue)
	room := q.members.room.Load()
	if room == nil {
		t.Fatal("the group's room was not published at commit")
	}
	return room
}

// TestQueueGroupSharesLine: two waiting routes of one group (web page and
// app API) share one line, one place per client, and one status page.
func TestQueueGroupSharesLine(t *testing.T) {
	env := testEnv(t)
	s := mustSale(t, env, `
  - name: web
    path: /item/{id}
    origin: shop
    filters:
      - queue: {group: sale, max_active: 1}
  - name: app
    path: /api/item/{id}
    origin: shop
    filters:
      - queue: {group: sale, max_active: 1}
`)
	if s.pages["/_flashgate/queue/sale/status"] == nil || s.pages["/_flashgate/queue/web/status"] != nil {
		t.Fatalf("pages %v, want one status page for the group", keys(s.pages))
	}
	a, b := newClient(1), newClient(2)
	a.send(s.chains["web"], "/item/7", t0)
	v1, _ := b.send(s.chains["web"], "/item/7", t0+sec)
	v2, _ := b.send(s.chains["app"], "/api/item/7", t0+2*sec)
	if reason(v1) != "queued" || reason(v2) != "queued" || v1.Value() != 1 || v2.Value() != 1 {
		t.Fatalf("web %s %d, app %s %d: want the same place 1 in one line", reason(v1), v1.Value(), reason(v2), v2.Value())
	}
	if v, _ := a.send(s.chains["app"], "/api/item/7", t0+3*sec); reason(v) != "pass" {
		t.Fatalf("the web page's pass on the app route: %s", reason(v))
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestQueueGroupSurvivesReload: a reload that retunes the line keeps the
// places and the passes of the group.
func TestQueueGroupSurvivesReload(t *testing.T) {
	env := testEnv(t)
	routes := strings.Replace(saleRules, "      - quiz: {group: sale, return: /item/7, min_solve: 1s}\n", "", 1)
	s := mustSale(t, env, routes)
	a, b := newClient(1), newClient(2)
	a.send(s.chains["item"], "/item/7", t0)
	b.send(s.chains["item"], "/item/7", t0+sec)
	s = mustSale(t, env, strings.Replace(routes, "session: 1m", "session: 2m", 1))
	if v, _ := a.send(s.chains["buy"], "/buy/7", t0+2*sec); reason(v) != "pass" {
		t.Fatalf("pass after a retuning reload: %s", reason(v))
	}
	if v, _ := b.send(s.chains["item"], "/item/7", t0+2*sec); reason(v) != "queued" || v.Value() != 1 {
		t.Fatalf("place after a retuning reload: %s %d, want queued 1", reason(v), v.Value())
	}
}

func TestQueueGroupCompileErrors(t *testing.T) {
	route := func(name, spec string) string {
		return "  - name: " + name + "\n    path: /" + name + "/{id}\n    origin: shop\n    filters:\n      - queue: " + spec + "\n"
	}
	tests := []struct {
		name, routes, want string
	}{
		{"require without group", route("buy", "{mode: require, wait_url: /item/7}"), "give both routes the same group"},
		{"require without wait_url", route("buy", "{mode: require, group: g}"), "mode: require needs wait_url"},
		{"require with a tunable", route("buy", "{mode: require, group: g, wait_url: /item/7, admit_rate: 5/s}"), "admit_rate is for mode: wait"},
		{"require with another site", route("buy", "{mode: require, group: g, wait_url: //evil.example/x}"), "is not a path on this site"},
		{"require with a relative url", route("buy", "{mode: require, group: g, wait_url: item/7}"), "is not a path on this site"},
		{"wait with wait_url", route("item", "{max_active: 5, wait_url: /item/7}"), "wait_url is for mode: require"},
		{"unknown mode", route("item", "{max_active: 5, mode: hold}"), `unknown mode "hold" (known: wait, require)`},
		{"bad group", route("item", "{max_active: 5, group: a/b}"), `group "a/b": use 1..64 letters`},
		{"members with other keys", route("item", "{max_active: 5, group: g}") +
			route("buy", "{mode: require, group: g, wait_url: /item/7, key: cookie:uid}"), `must share its settings, but these differ from route "item"'s`},
		{"wait members tuned apart", route("item", "{max_active: 5, group: g}") + route("app", "{max_active: 6, group: g}"),
			"give them the same admit_rate, max_active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileRoutes(t, testEnv(t), tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestQueueRequireOnlyGroupWarns: a group whose routes all require its
// pass refuses everyone; the operator is told at load.
func TestQueueRequireOnlyGroupWarns(t *testing.T) {
	env := testEnv(t)
	var logs bytes.Buffer
	env.Log = slog.New(slog.NewTextHandler(&logs, nil))
	mustSale(t, env, "  - name: buy\n    path: /buy/{id}\n    origin: shop\n    filters:\n      - queue: {mode: require, group: g, wait_url: /item/7}\n")
	if !strings.Contains(logs.String(), "none that issues it") || !strings.Contains(logs.String(), "group=g") {
		t.Fatalf("log %q, want a warning naming group g", logs.String())
	}
	logs.Reset()
	mustSale(t, env, saleRules)
	if logs.Len() != 0 {
		t.Fatalf("unexpected log for a complete sale: %s", logs.String())
	}
}
