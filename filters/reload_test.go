package filters

import "testing"

// TestStateSurvivesUnrelatedReload fills each stateful filter, recompiles
// the route with an edit that does not touch the filter's meaning (a filter
// added in front, a retuned rate), and checks the state is still there.
func TestStateSurvivesUnrelatedReload(t *testing.T) {
	alice := withCookie("uid", "alice")
	tests := []struct {
		name, before, after string
		fill                func(c *Chain)
		path                string
		opts                []reqOpt
		want                string
	}{
		{
			name:   "ratelimit bucket",
			before: "- ratelimit: {rate: 1/m, key: \"cookie:uid\"}\n",
			after:  "- window: {end: 2027-01-01T00:00:00Z}\n- ratelimit: {rate: 2/h, key: \"cookie:uid\"}\n",
			fill:   func(c *Chain) { verdictOf(c, "/buy/1", alice) },
			path:   "/buy/1", opts: []reqOpt{alice}, want: "rate_limited",
		},
		{
			name:   "purchase count",
			before: "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n",
			after:  "- ratelimit: {rate: 100/s}\n- purchase_limit: {max: 1, key: \"cookie:uid\", period: 48h}\n",
			fill: func(c *Chain) {
				_, r := verdictOf(c, "/buy/1", alice)
				c.Observe(r, respond(200, ""))
			},
			path: "/buy/1", opts: []reqOpt{alice}, want: "purchase_limit",
		},
		{
			name:   "stock attempts",
			before: "- stock: {stock: {\"1\": 1}, sold_out: {status: 409}}\n",
			after:  "- window: {end: 2027-01-01T00:00:00Z}\n- stock: {stock: {\"1\": 1}, sold_out: {status: 409, body_contains: x}}\n",
			fill:   func(c *Chain) { verdictOf(c, "/buy/1") },
			path:   "/buy/1", want: "stock_exhausted",
		},
		{
			name:   "sold-out flag",
			before: "- stock: {stock: {\"1\": 50}, sold_out: {status: 409}}\n",
			after:  "- stock: {stock: {\"1\": 50}, overbook: 2, sold_out: {status: 409}}\n",
			fill: func(c *Chain) {
				_, r := verdictOf(c, "/buy/1")
				c.Observe(r, respond(409, ""))
			},
			path: "/buy/1", want: "sold_out",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			tt.fill(mustCompile(t, env, tt.before))
			c := mustCompile(t, env, tt.after)
			if v, _ := verdictOf(c, tt.path, tt.opts...); reason(v) != tt.want {
				t.Fatalf("after reload: %s, want %s", reason(v), tt.want)
			}
		})
	}
}

// TestStateResetWhenMeaningChanges: keying a limit by another identity is
// a new limit; its buckets start empty.
func TestStateResetWhenMeaningChanges(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- ratelimit: {rate: 1/m, scope: global}\n")
	verdictOf(c, "/buy/1")
	c = mustCompile(t, env, "- ratelimit: {rate: 1/m, scope: key}\n")
	if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
		t.Fatalf("a per-client limit inherited the global bucket: %s", reason(v))
	}
}

// TestSetStockSurvivesReload: stock set at run time holds across a reload
// unless the rule's value for that item is edited.
func TestSetStockSurvivesReload(t *testing.T) {
	env := testEnv(t)
	mustCompile(t, env, "- stock: {stock: {\"1\": 100}, sold_out: {status: 409}}\n")
	if err := env.SetStock("buy", "1", 1); err != nil {
		t.Fatal(err)
	}
	c := mustCompile(t, env, "- window: {end: 2027-01-01T00:00:00Z}\n- stock: {stock: {\"1\": 100}, sold_out: {status: 409}}\n")
	verdictOf(c, "/buy/1")
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_exhausted" {
		t.Fatalf("SetStock(1) lost on reload: second attempt %s", reason(v))
	}
	c = mustCompile(t, env, "- stock: {stock: {\"1\": 3}, sold_out: {status: 409}}\n")
	if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
		t.Fatalf("edited rule stock not applied: %s", reason(v))
	}
}

// TestCommitDropsUnclaimedState: process-local state of a filter that is
// gone is dropped at the next successful compile; a failed compile leaves
// the serving state and SetStock target alone.
func TestCommitDropsUnclaimedState(t *testing.T) {
	env := testEnv(t)
	mustCompile(t, env, "- stock: {stock: {\"1\": 1}, sold_out: {status: 409}}\n")
	if len(env.states) != 1 {
		t.Fatalf("%d states after compiling one stock gate, want 1", len(env.states))
	}
	if _, err := compileErr(t, env, "- stock: {stock: {\"1\": 1}, sold_out: {status: 409}}\n- ratelimit: {rate: 1/s}\n", "", nil); err == nil {
		t.Fatal("out-of-order chain compiled")
	}
	if err := env.SetStock("buy", "1", 2); err != nil {
		t.Fatalf("SetStock after a failed compile: %v", err)
	}
	mustCompile(t, env, "- ratelimit: {rate: 1/s}\n")
	if len(env.states) != 0 {
		t.Fatalf("%d states after the stock gate was removed, want 0", len(env.states))
	}
	if err := env.SetStock("buy", "1", 2); err == nil {
		t.Fatal("SetStock reached a removed stock gate")
	}
}

// TestListFileKeptAcrossReload: a rule reload reuses the loaded list (same
// set, not re-read) when the file did not change.
func TestListFileKeptAcrossReload(t *testing.T) {
	env := testEnv(t)
	list := t.TempDir() + "/blocked.txt"
	writeFile(t, list, "203.0.113.5\n")
	c1 := mustCompile(t, env, "- blocklist: {files: ["+list+"]}\n")
	c2 := mustCompile(t, env, "- window: {end: 2027-01-01T00:00:00Z}\n- blocklist: {files: ["+list+"]}\n")
	s1, s2 := c1.filters[0].(*blocklist).files.set.Load(), c2.filters[1].(*blocklist).files.set.Load()
	if s1 != s2 {
		t.Fatal("an unrelated reload re-read the unchanged list file")
	}
	if v, _ := verdictOf(c2, "/buy/1", withIP("203.0.113.5")); reason(v) != "blocked" {
		t.Fatalf("after reload: %s", reason(v))
	}
}

// TestStockRuleEdits: a new overbook recomputes every item's budget (also
// for stock set at run time); a compile that fails applies nothing.
func TestStockRuleEdits(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- stock: {stock: {\"1\": 2}, sold_out: {status: 409}}\n")
	verdictOf(c, "/buy/1")
	verdictOf(c, "/buy/1")
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_exhausted" {
		t.Fatalf("third attempt at stock 2: %s", reason(v))
	}
	if _, err := compileErr(t, env, "- stock: {stock: {\"1\": 50}, sold_out: {status: 409}}\n- window: {}\n", "", nil); err == nil {
		t.Fatal("out-of-order chain compiled")
	}
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_exhausted" {
		t.Fatalf("a failed compile changed the serving stock: %s", reason(v))
	}
	c = mustCompile(t, env, "- stock: {stock: {\"1\": 2}, overbook: 2, sold_out: {status: 409}}\n")
	for i := range 2 {
		if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
			t.Fatalf("attempt %d of the 2 more that overbook 2 allows: %s", i, reason(v))
		}
	}
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_exhausted" {
		t.Fatalf("fifth attempt: %s", reason(v))
	}
}

// TestGroupSharesState: a web route and an app route in one group meet one
// stock count and one purchase limit; SetStock through either route
// reaches the shared stock.
func TestGroupSharesState(t *testing.T) {
	env := testEnv(t)
	cfg := loadConfig(t, `- purchase_limit: {max: 1, key: "cookie:uid", group: sale}
- stock: {stock: {"1": 2}, sold_out: {status: 409}, group: sale}
`, "", nil)
	if err := env.Begin(cfg.Admission, nil); err != nil {
		t.Fatal(err)
	}
	web, err := Compile("web", cfg.Routes[0].Filters, env)
	if err != nil {
		t.Fatal(err)
	}
	app, err := Compile("app", cfg.Routes[0].Filters, env)
	if err != nil {
		t.Fatal(err)
	}
	env.Commit()
	_, r := verdictOf(web, "/buy/1", withCookie("uid", "alice"))
	web.Observe(r, respond(200, ""))
	if v, _ := verdictOf(app, "/buy/1", withCookie("uid", "alice")); reason(v) != "purchase_limit" {
		t.Fatalf("alice's second purchase through the app route: %s", reason(v))
	}
	verdictOf(app, "/buy/1", withCookie("uid", "bob"))
	if v, _ := verdictOf(web, "/buy/1", withCookie("uid", "carol")); reason(v) != "stock_exhausted" {
		t.Fatalf("third attempt across routes at stock 2: %s", reason(v))
	}
	if err := env.SetStock("app", "1", 1); err != nil {
		t.Fatal(err)
	}
	if v, _ := verdictOf(web, "/buy/1", withCookie("uid", "carol")); v.Rejected() {
		t.Fatalf("restock through the app route not seen by the web route: %s", reason(v))
	}
}
