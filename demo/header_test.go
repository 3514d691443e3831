package demo

import (
	"strings"
	"testing"
)

// TestUserBox: the header names the signed-in user and offers sign-out;
// shared pages leave the box to the /frag/user fragment (an ESI hole with
// a plain "Sign in" fallback), which is never cacheable; signing out
// clears the cookie.
func TestUserBox(t *testing.T) {
	_, base, c := startShop(t, Options{})
	alice := map[string]string{"Cookie": "uid=alice"}

	frag := do(t, c, base, request{path: "/frag/user", headers: alice})
	if body := string(frag.Body()); !strings.Contains(body, "Signed in as <b>alice</b>") || !strings.Contains(body, `name="signout"`) {
		t.Errorf("/frag/user for alice = %s", body)
	}
	if cc := string(frag.Header.Peek("Cache-Control")); !strings.Contains(cc, "no-store") || string(frag.Header.Peek("Vary")) != "Cookie" {
		t.Errorf("/frag/user Cache-Control %q Vary %q: a per-user fragment must not be stored", cc, frag.Header.Peek("Vary"))
	}
	if body := string(do(t, c, base, request{path: "/frag/user"}).Body()); !strings.Contains(body, `href="/login">Sign in`) {
		t.Errorf("/frag/user signed out = %s", body)
	}
	for _, path := range []string{"/", "/item/3"} {
		resp := do(t, c, base, request{path: path, headers: alice})
		body := string(resp.Body())
		if !strings.Contains(body, `<esi:include src="/frag/user" onerror="continue"/><esi:remove><a class="login" href="/login">Sign in</a></esi:remove>`) ||
			strings.Contains(body, "alice") || len(resp.Header.Peek("Surrogate-Control")) == 0 {
			t.Errorf("%s: the shared shell must hold the user box as a fragment, not alice:\n%s", path, body)
		}
	}
	if body := string(do(t, c, base, request{path: "/login", headers: alice}).Body()); !strings.Contains(body, "Signed in as <b>alice</b>") {
		t.Errorf("/login (a personal page) lacks alice's box:\n%s", body)
	}
	out := do(t, c, base, request{method: "POST", path: "/login", headers: alice, body: "signout=1"})
	if out.StatusCode() != 303 || !strings.Contains(string(out.Header.Peek("Set-Cookie")), "uid=;") {
		t.Errorf("sign-out: %d Set-Cookie %q, want 303 clearing uid", out.StatusCode(), out.Header.Peek("Set-Cookie"))
	}
}

// TestDoorbusterPage: item 7's page says it is the doorbuster, states the
// one-per-customer limit and counts down, and keeps stock as a fragment;
// other items say nothing of it.
func TestDoorbusterPage(t *testing.T) {
	_, base, c := startShop(t, Options{})
	body := string(do(t, c, base, request{path: "/item/7"}).Body())
	for _, want := range []string{`<span class="badge">Doorbuster</span>`, "Limit 1 per customer", `id="deal-left"`,
		`<esi:include src="/frag/stock/7" onerror="continue"/>`} {
		if !strings.Contains(body, want) {
			t.Errorf("doorbuster page lacks %q", want)
		}
	}
	if other := string(do(t, c, base, request{path: "/item/3"}).Body()); strings.Contains(other, "Doorbuster") {
		t.Error("item 3 claims to be the doorbuster")
	}
}

// TestLoginNext: signing in returns to the page named by next when it is
// on this site, never to another site.
func TestLoginNext(t *testing.T) {
	_, base, c := startShop(t, Options{})
	for next, want := range map[string]string{"/item/7": "/item/7", "": "/", "//evil.example/x": "/", "https://evil.example/": "/", `/\evil`: "/"} {
		resp := do(t, c, base, request{method: "POST", path: "/login", body: "user=alice&next=" + next})
		if resp.StatusCode() != 303 || string(resp.Header.Peek("Location")) != want {
			t.Errorf("next=%q: %d Location %q, want 303 %q", next, resp.StatusCode(), resp.Header.Peek("Location"), want)
		}
	}
}
