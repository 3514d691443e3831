package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestLifetimesFromOrigin: Surrogate-Control aimed at us first, then
// s-maxage, max-age, Expires; the rule's values are the fallback.
func TestLifetimesFromOrigin(t *testing.T) {
	const s = int64(time.Second)
	date := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	p, _ := CompilePolicy(PolicySpec{TTL: 7 * time.Second, TTLFromOrigin: true,
		StaleWhileRevalidate: 3 * time.Second, StaleIfError: 4 * time.Second, NegativeTTL: 2 * time.Second})
	cases := []struct {
		name    string
		status  int
		headers []string
		want    lifetimes
	}{
		{"nothing: rule", 200, nil, lifetimes{7 * s, 3 * s, 4 * s}},
		{"surrogate for us beats s-maxage", 200, []string{"Surrogate-Control", "max-age=5", "Cache-Control", "s-maxage=100, max-age=9"}, lifetimes{5 * s, 3 * s, 4 * s}},
		{"surrogate targeted at us", 200, []string{"Surrogate-Control", "max-age=50;other, max-age=6;flashgate"}, lifetimes{6 * s, 3 * s, 4 * s}},
		{"surrogate for another device ignored", 200, []string{"Surrogate-Control", "max-age=50;varnish", "Cache-Control", "max-age=9"}, lifetimes{9 * s, 3 * s, 4 * s}},
		{"s-maxage beats max-age", 200, []string{"Cache-Control", "max-age=9, s-maxage=20"}, lifetimes{20 * s, 3 * s, 4 * s}},
		{"origin stale windows", 200, []string{"Cache-Control", "max-age=9, stale-while-revalidate=30, stale-if-error=600"}, lifetimes{9 * s, 30 * s, 600 * s}},
		{"expires relative to date", 200, []string{"Date", "Wed, 11 Nov 2026 00:00:00 GMT", "Expires", "Wed, 11 Nov 2026 00:01:00 GMT"}, lifetimes{60 * s, 3 * s, 4 * s}},
		{"invalid expires is already expired", 200, []string{"Expires", "0"}, lifetimes{1 - date.UnixNano(), 3 * s, 4 * s}},
		{"max-age=0", 200, []string{"Cache-Control", "max-age=0"}, lifetimes{0, 3 * s, 4 * s}},
		{"404 uses negative_ttl", 404, []string{"Cache-Control", "max-age=600"}, lifetimes{2 * s, 3 * s, 4 * s}},
		{"quoted and spaced", 200, []string{"Cache-Control", ` public , max-age="12" `}, lifetimes{12 * s, 3 * s, 4 * s}},
	}
	for _, tc := range cases {
		var resp fasthttp.Response
		for i := 0; i < len(tc.headers); i += 2 {
			resp.Header.Set(tc.headers[i], tc.headers[i+1])
		}
		d := parseDirectives(&resp.Header, []byte("flashgate"))
		got := lifetimesFor(p, d, tc.status, responseDate(&resp, date.UnixNano()), date.UnixNano())
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestSurrogateControlConsumed: Surrogate-Control is obeyed and never sent
// downstream; tag headers are passed through; the CDN gets the route's
// Cache-Control.
func TestSurrogateControlConsumed(t *testing.T) {
	o := newOrigin(t, page("x", "Surrogate-Control", `max-age=5, content="ESI/1.0"`,
		"Cache-Control", "public, max-age=600", "Surrogate-Key", "item-1 sale", "Cache-Tag", "item-1"))
	g := newGateway(t, PolicySpec{TTL: time.Minute, TTLFromOrigin: true, CDNCacheControl: "public, s-maxage=60"}, o, Options{})
	for _, want := range []string{"MISS", "HIT"} {
		r := g.get(t, "/p", nil)
		hs := r.header.String()
		if r.xcache != want || strings.Contains(hs, "Surrogate-Control") || r.cc != "public, s-maxage=60" ||
			!strings.Contains(hs, "Surrogate-Key: item-1 sale") || !strings.Contains(hs, "Cache-Tag: item-1") {
			t.Fatalf("%s: headers\n%s", want, hs)
		}
	}
	g.clock.Advance(6 * time.Second)
	if r := g.get(t, "/p", nil); r.xcache != "MISS" || o.hits.Load() != 2 {
		t.Fatalf("after Surrogate-Control max-age=5 (no stale windows): X-Cache %q, origin hits %d; want MISS, 2",
			r.xcache, o.hits.Load())
	}
}
