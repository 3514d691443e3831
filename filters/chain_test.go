package filters

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRejectionHTMLAndJSON(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- ratelimit: {rate: 1/s, key: ip}\n")
	if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
		t.Fatalf("first request rejected: %s", reason(v))
	}
	tests := []struct {
		name, accept, wantType string
	}{
		{"browser", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8"},
		{"api", "application/json", "application/json"},
		{"problem json", "application/problem+json", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, r := verdictOf(c, "/buy/1", withHeader("Accept", tt.accept))
			resp := &r.Ctx.Response
			if !v.Rejected() || resp.StatusCode() != 429 {
				t.Fatalf("got %s / %d, want rate_limited / 429", reason(v), resp.StatusCode())
			}
			for h, want := range map[string]string{"Content-Type": tt.wantType, "Retry-After": "1",
				"X-Flashgate-Filter": "ratelimit", "Cache-Control": "no-store"} {
				if got := string(resp.Header.Peek(h)); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			body := string(resp.Body())
			if tt.wantType == "application/json" {
				var got map[string]any
				if err := json.Unmarshal(resp.Body(), &got); err != nil {
					t.Fatalf("body is not JSON: %v\n%s", err, body)
				}
				if got["error"] != "rate_limited" || got["retry_after"] != float64(1) || got["route"] != "buy" {
					t.Errorf("JSON body = %s", body)
				}
			} else if !strings.Contains(body, "<h1>Too many requests</h1>") || !strings.Contains(body, "faster than this sale allows") {
				t.Errorf("HTML body = %s", body)
			}
		})
	}
	if got := env.Metrics.GetOrCreateCounter(`flashgate_filter_rejections_total{route="buy",filter="ratelimit",reason="rate_limited"}`).Get(); got != 3 {
		t.Errorf("rejection counter = %d, want 3", got)
	}
}

func TestOperatorPage(t *testing.T) {
	env := testEnv(t)
	page := "<h1>{{title}}</h1><p>Wait {{value}}s on {{route}}</p>"
	c, err := compileErr(t, env, "- ratelimit: {rate: 1/m, key: ip}\n", "pages: {rate_limited: slow.html}\n",
		map[string]string{"slow.html": page})
	if err != nil {
		t.Fatal(err)
	}
	verdictOf(c, "/buy/1")
	_, r := verdictOf(c, "/buy/1", at(t0+1e9))
	if got, want := string(r.Ctx.Response.Body()), "<h1>Too many requests</h1><p>Wait 59s on buy</p>"; got != want {
		t.Errorf("page = %q, want %q", got, want)
	}
	_, err = compileErr(t, env, "- ratelimit: {rate: 1/m}\n", "pages: {rate_limited: bad.html}\n",
		map[string]string{"bad.html": "{{titel}}"})
	if err == nil || !strings.Contains(err.Error(), "unknown placeholder {{titel}}") || !strings.Contains(err.Error(), "pages.rate_limited") {
		t.Errorf("typo in template: err = %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown kind", "- ratelimt: {rate: 1/s}\n", `unknown filter kind "ratelimt"`},
		{"out of stage order", "- ratelimit: {rate: 1/s}\n- window: {start: 2026-11-25T12:00:00Z}\n",
			`"window" (stage window) is listed after "ratelimit" (stage limits)`},
		{"unknown key", "- ratelimit: {rate: 1/s, brust: 3}\n", "brust"},
		{"bad scope", "- ratelimit: {rate: 1/s, scope: user}\n", `unknown scope "user"`},
		{"bad identity", "- ratelimit: {rate: 1/s, key: email}\n", `unknown identity "email"`},
		{"short key", "- ratelimit: {rate: 1/s, key: {use: \"cookie:uid\", signed: {keys: [short]}}}\n", "at least 32 are needed"},
		{"window backwards", "- window: {start: 2026-11-25T12:00:00Z, end: 2026-11-25T11:00:00Z}\n", "ends (2026-11-25T11:00:00Z) before it starts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileErr(t, testEnv(t), tt.yaml, "", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := compileErr(t, testEnv(t), "- ratelimit: {rate: 1/s, scope: x}\n- stock: {mode: y, sold_out: {status: 409}}\n", "", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown scope "x"`) || !strings.Contains(err.Error(), `unknown "y"`) {
		t.Fatalf("err = %v, want both errors", err)
	}
}

func TestNilChainAdmits(t *testing.T) {
	var c *Chain
	if v := c.Check(newReq("/buy/1")); v.Rejected() {
		t.Fatal("nil chain rejected")
	}
	c.Observe(newReq("/buy/1"), respond(200, ""))
}

func TestOperatorPageErrors(t *testing.T) {
	tests := []struct{ name, admission, page, want string }{
		{"unknown page", "pages: {rate_limted: p.html}\n", "x", `pages.rate_limted: unknown page "rate_limted" (known: shop, dir, layout, not_started,`},
		{"unclosed", "pages: {rate_limited: p.html}\n", "<p>{{.Title", "p.html:1: unclosed action"},
		{"unknown function", "pages: {rate_limited: p.html}\n", "\n{{Title}}", `p.html:2: function "Title" not defined`},
		{"unknown field", "pages: {rate_limited: p.html}\n", "<p>\n  {{.Positon}}", "p.html:2:4: can't evaluate field Positon in type *filters.PageData"},
		{"missing file", "pages: {rate_limited: nope.html}\n", "", "cannot read page template"},
		{"old placeholder typo", "pages: {rate_limited: p.html}\n", "{{titel}}", "unknown placeholder {{titel}}"},
		{"bad colour", "pages: {shop: {color: red}}\n", "", `pages.shop.color: color "red": want #rrggbb`},
		{"unknown field in the layout", "pages: {layout: p.html}\n", `{{define "style"}}{{.Shop.Colour}}{{end}}`, "p.html:1:25: can't evaluate field Colour in type filters.Shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileErr(t, testEnv(t), "- ratelimit: {rate: 1/s}\n", tt.admission, map[string]string{"p.html": tt.page})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// `flashgate -check` promises every error: a spec with an unknown key and a
// bad value reports both, and a filter listed out of stage order reports
// its own errors beside the order error.
func TestCompileReportsEveryErrorOfAFilter(t *testing.T) {
	_, err := compileErr(t, testEnv(t), `
- stock: {overbook: 500, bogus: 3, sold_out: {status: 409}}
- ratelimit: {rate: 10/x, key: ip}
`, "", nil)
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{
		`stock.bogus: unknown key "bogus"`,
		`stock.overbook: must be within 1..100, got 500`,
		`"ratelimit" (stage limits) is listed after "stock"`,
		`ratelimit.rate: bad rate "10/x"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	// A value that did not decode is reported once, not again as missing.
	if n := strings.Count(err.Error(), "ratelimit.rate"); n != 1 {
		t.Errorf("ratelimit.rate reported %d times:\n%v", n, err)
	}
}
