package filters

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPrefersJSON: browsers loading a page get HTML; anything asking for
// JSON, and anything not asking for HTML at all, gets JSON.
func TestPrefersJSON(t *testing.T) {
	for _, tc := range []struct {
		accept string
		json   bool
	}{
		{browserAccept, false},                   // Chrome, Firefox page load
		{"text/html", false},                     // a form post from an old browser
		{"application/xhtml+xml", false},         // XHTML clients
		{"application/json", true},               // API clients
		{"application/problem+json", true},       // ... in any JSON flavour
		{"application/json, text/html", true},    // asking for JSON wins
		{"application/vnd.shop+json, */*", true}, // mobile app
		{"", true},                               // no Accept: scripts, bots, wrk
		{"*/*", true},                            // curl, fetch()
		{"image/avif,image/webp,*/*", true},      // an <img> load
	} {
		if got := PrefersJSON([]byte(tc.accept)); got != tc.json {
			t.Errorf("PrefersJSON(%q) = %v, want %v", tc.accept, got, tc.json)
		}
	}
}

// TestRejectionWithoutAccept: a client that sends no Accept (a script, a
// bot) is answered in the compact JSON form, with the same status and
// headers as a browser.
func TestRejectionWithoutAccept(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- ratelimit: {rate: 1/m, key: ip}\n")
	verdictOf(c, "/buy/1")
	browser, br := verdictOf(c, "/buy/1")
	script, sr := verdictOf(c, "/buy/1", withHeader("Accept", ""))
	if !browser.Rejected() || !script.Rejected() {
		t.Fatal("the second and third request must be rate limited")
	}
	if ct := string(br.Ctx.Response.Header.ContentType()); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("browser got %s, want the HTML page", ct)
	}
	resp := &sr.Ctx.Response
	var body struct {
		Error      string `json:"error"`
		RetryAfter int    `json:"retry_after"`
	}
	if ct := string(resp.Header.ContentType()); ct != "application/json" {
		t.Fatalf("script got %s, want application/json", ct)
	}
	if err := json.Unmarshal(resp.Body(), &body); err != nil || body.Error != "rate_limited" || body.RetryAfter < 1 {
		t.Fatalf("script got %q (%v), want a rate_limited JSON body with retry_after", resp.Body(), err)
	}
	if resp.StatusCode() != 429 || len(resp.Header.Peek("Retry-After")) == 0 || string(resp.Header.Peek("X-Flashgate-Filter")) != "ratelimit" {
		t.Errorf("script got status %d, Retry-After %q, filter %q", resp.StatusCode(), resp.Header.Peek("Retry-After"), resp.Header.Peek("X-Flashgate-Filter"))
	}
}

// TestRejectionKeepsCookies: a rejection written over a response a filter
// already put a cookie on keeps the cookie and carries exactly the headers
// a rejection on an untouched response carries.
func TestRejectionKeepsCookies(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- ratelimit: {rate: 1/m, key: ip}\n")
	verdictOf(c, "/buy/1")
	plain, _ := verdictOf(c, "/buy/1")
	for _, accept := range []string{browserAccept, "application/json"} {
		fresh := newReq("/buy/1", withHeader("Accept", accept))
		plain.Write(fresh.Ctx)
		withCookie := newReq("/buy/1", withHeader("Accept", accept))
		var ck fasthttp.Cookie
		ck.SetKey("fg_device")
		ck.SetValue("d1")
		withCookie.Ctx.Response.Header.SetCookie(&ck)
		plain.Write(withCookie.Ctx)

		got := headerLines(&withCookie.Ctx.Response.Header)
		want := append(headerLines(&fresh.Ctx.Response.Header), "Set-Cookie: fg_device=d1")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Accept %q: headers over a cookie\n%q\nwant\n%q", accept, got, want)
		}
		if withCookie.Ctx.Response.StatusCode() != 429 || !bytes.Equal(withCookie.Ctx.Response.Body(), fresh.Ctx.Response.Body()) {
			t.Errorf("Accept %q: status %d, body differs from the untouched response's", accept, withCookie.Ctx.Response.StatusCode())
		}
	}
}

func headerLines(h *fasthttp.ResponseHeader) []string {
	var lines []string
	for k, v := range h.All() {
		lines = append(lines, string(k)+": "+string(v))
	}
	return lines
}
