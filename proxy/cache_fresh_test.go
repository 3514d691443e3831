package proxy

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// A fresh hit is answered before the origin request is built
// (cacheStage.ServeFresh), so it keys on the client's request. It must
// pick exactly the entry the full path would: a header the forwarding rules
// drop or rebuild is read as the origin receives it, never as the client
// sent it, so a client cannot select or poison a variant with it.
func TestFreshHitKeysOnWhatTheOriginSees(t *testing.T) {
	o := newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("region=" + string(ctx.Request.Header.Peek("X-Region")) +
			" fwd-host=" + string(ctx.Request.Header.Peek("X-Forwarded-Host")))
	})
	addr := startOrigin(t, o.handle)
	cfg := loadYAML(t, addr, `
origins:
  shop: {servers: [ORIGIN]}
routes:
  - name: region
    path: /region
    origin: shop
    cache: {ttl: 60s, key: {headers: [X-Region]}}
  - name: fwd
    path: /fwd
    origin: shop
    cache: {ttl: 60s, key: {headers: [X-Forwarded-Host]}}
`)
	g := cachedGateway(t, cfg, &fakeClock{t: time.Unix(1_800_000_000, 0)})
	for _, step := range []struct {
		uri    string
		hdr    []string
		xcache string
		body   string
	}{
		{"/region", []string{"X-Region", "eu"}, "MISS", "region=eu fwd-host=shop.example"},
		{"/region", []string{"X-Region", "eu"}, "HIT", "region=eu fwd-host=shop.example"},
		// Listed in Connection, X-Region is hop-by-hop: the origin never
		// sees it, so this is the variant without a region.
		{"/region", []string{"X-Region", "eu", "Connection", "X-Region"}, "MISS", "region= fwd-host=shop.example"},
		{"/region", []string{"X-Region", "eu"}, "HIT", "region=eu fwd-host=shop.example"},
		{"/fwd", nil, "MISS", "region= fwd-host=shop.example"},
		// An untrusted client's X-Forwarded-Host is replaced by its Host:
		// the same entry, whatever it claims.
		{"/fwd", []string{"X-Forwarded-Host", "evil.example"}, "HIT", "region= fwd-host=shop.example"},
		{"/fwd", nil, "HIT", "region= fwd-host=shop.example"},
	} {
		resp := g.get(t, step.uri, step.hdr...)
		if x, b := string(resp.Header.Peek("X-Cache")), string(resp.Body()); x != step.xcache || b != step.body {
			t.Fatalf("GET %s %q: X-Cache %s, body %q; want %s, %q", step.uri, step.hdr, x, b, step.xcache, step.body)
		}
	}
	if n := o.count("/region") + o.count("/fwd"); n != 3 {
		t.Errorf("origin saw %d requests, want 3", n)
	}
}
