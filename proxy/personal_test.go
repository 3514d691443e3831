package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// personalRules: the origin says "public, max-age=60" for every page,
// also for the one that sets a cookie; %s is the origin, and PERSONAL is
// replaced by the top-level cache.personal line under test.
const personalRules = `
cache: {PERSONAL}
origins:
  shop: {servers: ["%s"]}
routes:
  - name: item
    methods: [GET, HEAD]
    path: /item/{id}
    origin: shop
    cache: {ttl_from_origin: true, ttl: 60s, session_cookies: [sid]}
  - name: login
    methods: [GET]
    path: /login
    origin: shop
  - name: cached-login
    methods: [GET]
    path: /cached/login
    origin: shop
    cache: {ttl: 60s}
`

// personalOrigin answers every page public for a minute, and /login and
// /cached/login with a session cookie and a CDN-targeted lifetime too.
func personalOrigin(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "public, max-age=60")
	if strings.HasSuffix(string(ctx.Path()), "/login") {
		ctx.Response.Header.Set("Set-Cookie", "sid=s3cret; Path=/; HttpOnly")
		ctx.Response.Header.Set("CDN-Cache-Control", "max-age=600")
	}
	ctx.SetBodyString("page")
}

// TestPersonalAnswersNotForSharedCaches: a request carrying a declared
// session cookie (or Authorization) bypasses the cache, and an answer
// that sets a cookie is never stored; both leave the gateway marked so a
// CDN in front does not store them either (private by default), while a
// page for everyone keeps the origin's public lifetime.
func TestPersonalAnswersNotForSharedCaches(t *testing.T) {
	addr := startOrigin(t, personalOrigin)
	tests := []struct {
		name, personal, path string
		hdr                  []string
		wantCC               string
		wantCDN              string // CDN-Cache-Control after
	}{
		{"session cookie", "", "/item/1", []string{"Cookie", "sid=abc"}, "private, max-age=60", ""},
		{"authorization", "", "/item/2", []string{"Authorization", "Bearer x"}, "private, max-age=60", ""},
		{"set-cookie, uncached route", "", "/login", nil, "private, max-age=60", ""},
		{"set-cookie, caching route", "", "/cached/login", nil, "private, max-age=60", ""},
		{"page for everyone", "", "/item/3", nil, "public, max-age=60", ""},
		{"no-store: session cookie", "personal: no-store", "/item/1", []string{"Cookie", "sid=abc"}, "private, no-store", ""},
		{"no-store: set-cookie", "personal: no-store", "/login", nil, "private, no-store", ""},
		{"as_origin: session cookie", "personal: as_origin", "/item/1", []string{"Cookie", "sid=abc"}, "public, max-age=60", ""},
		{"as_origin: set-cookie", "personal: as_origin", "/login", nil, "public, max-age=60", "max-age=600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := fileGateway(t, strings.Replace(personalRules, "PERSONAL", tt.personal, 1), addr)
			resp := g.do(t, "GET", tt.path, nil, tt.hdr...)
			if resp.StatusCode() != 200 {
				t.Fatalf("GET %s: %d %s", tt.path, resp.StatusCode(), resp.Body())
			}
			if got := string(resp.Header.Peek("Cache-Control")); got != tt.wantCC {
				t.Errorf("GET %s: Cache-Control %q, want %q", tt.path, got, tt.wantCC)
			}
			if got := string(resp.Header.Peek("CDN-Cache-Control")); got != tt.wantCDN {
				t.Errorf("GET %s: CDN-Cache-Control %q, want %q", tt.path, got, tt.wantCDN)
			}
			if strings.HasSuffix(tt.path, "/login") && !strings.Contains(string(resp.Header.Peek("Set-Cookie")), "sid=s3cret") {
				t.Errorf("GET %s: the cookie was lost: %q", tt.path, resp.Header.Peek("Set-Cookie"))
			}
		})
	}
}

// TestPersonalModeChecked: a misspelt cache.personal is a positioned load
// error naming the allowed values.
func TestPersonalModeChecked(t *testing.T) {
	cfg, err := rules.LoadBytes("gateway.yaml", []byte(fmt.Sprintf(strings.Replace(personalRules, "PERSONAL", "personal: nostore", 1), "127.0.0.1:1")))
	if err == nil {
		err = Check(cfg)
	}
	if err == nil || !strings.Contains(err.Error(), "cache.personal") || !strings.Contains(err.Error(), "allowed: private, no-store, as_origin") {
		t.Fatalf("err = %v, want a positioned error naming cache.personal and its values", err)
	}
}
