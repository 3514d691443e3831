package filters

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, `- window:
    start: 2026-11-25T12:00:00Z
    end: 2026-11-25T14:00:00Z
    items:
      "42": {start: 2026-11-25T13:00:00Z}
      "7": {end: 2026-11-25T12:30:00Z}
`)
	sec := int64(time.Second)
	tests := []struct {
		name, path string
		now        int64
		want       string
		status     int
		retryAfter string
	}{
		{"before start", "/buy/1", t0 - 90*sec, "not_started", 403, "90"},
		{"just before start rounds up", "/buy/1", t0 - 1, "not_started", 403, "1"},
		{"at start", "/buy/1", t0, "pass", 200, ""},
		{"inside", "/buy/1", t0 + 3600*sec, "pass", 200, ""},
		{"at end", "/buy/1", t0 + 7200*sec, "sale_ended", 410, ""},
		{"item starts later", "/buy/42", t0 + 1800*sec, "not_started", 403, "1800"},
		{"item inherits end", "/buy/42", t0 + 7200*sec, "sale_ended", 410, ""},
		{"item ends early", "/buy/7", t0 + 1800*sec, "sale_ended", 410, ""},
		{"item inherits start", "/buy/7", t0 - sec, "not_started", 403, "1"},
		{"unknown item gets the route window", "/buy/999", t0 + sec, "pass", 200, ""},
		// Origins read ids as numbers: "/buy/042" is item 42.
		{"zero-padded item id", "/buy/042", t0 + 1800*sec, "not_started", 403, "1800"},
		{"non-numeric id kept as is", "/buy/0x2a", t0 + 1800*sec, "pass", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, r := verdictOf(c, tt.path, at(tt.now))
			if got := reason(v); got != tt.want {
				t.Fatalf("verdict = %s, want %s", got, tt.want)
			}
			if got := r.Ctx.Response.StatusCode(); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			if got := string(r.Ctx.Response.Header.Peek("Retry-After")); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

func TestWindowCountdownPage(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- window: {start: 2026-11-25T12:00:00Z}\n")
	_, r := verdictOf(c, "/buy/1", at(t0-125*int64(time.Second)))
	body := string(r.Ctx.Response.Body())
	for _, want := range []string{
		"The sale opens on Wed 25 Nov 2026, 12:00 UTC", // readable without JavaScript
		`aria-labelledby="fg-left-label">about 3 minutes</p>`,
		`var end=Date.now()+("125"*1000)`, // the server's count, not the visitor's clock
	} {
		if !strings.Contains(body, want) {
			t.Errorf("countdown page lacks %q:\n%s", want, body)
		}
	}
	_, r = verdictOf(c, "/buy/1", at(t0-125*int64(time.Second)), withHeader("Accept", "application/json"))
	var got struct {
		Error    string `json:"error"`
		StartsAt string `json:"starts_at"`
		StartsIn int    `json:"starts_in"`
	}
	if err := json.Unmarshal(r.Ctx.Response.Body(), &got); err != nil || got.Error != "not_started" ||
		got.StartsAt != "2026-11-25T12:00:00Z" || got.StartsIn != 125 {
		t.Errorf("JSON = %s (%v)", r.Ctx.Response.Body(), err)
	}
}
