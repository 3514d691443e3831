package cache

import (
	"testing"
	"time"
)

// TestGenerationAndFreshUntil: every purge kind, soft or hard, raises the
// purge generation once it has taken effect; an entry's FreshUntil is its
// storage time plus the ttl, and a soft purge lowers it to the purge time
// (a lazy one, by prefix or of everything, at the entry's next lookup).
func TestGenerationAndFreshUntil(t *testing.T) {
	for _, tc := range []struct {
		name  string
		purge Purge
	}{
		{"url hard", Purge{Kind: PurgeURL, Host: "shop.test", Path: "/item/1"}},
		{"url soft", Purge{Kind: PurgeURL, Host: "shop.test", Path: "/item/1", Soft: true}},
		{"prefix hard", Purge{Kind: PurgePrefix, Host: "shop.test", Path: "/item/"}},
		{"prefix soft", Purge{Kind: PurgePrefix, Host: "shop.test", Path: "/item/", Soft: true}},
		{"tag hard", Purge{Kind: PurgeTag, Tag: "items"}},
		{"tag soft", Purge{Kind: PurgeTag, Tag: "items", Soft: true}},
		{"all hard", Purge{Kind: PurgeAll}},
		{"all soft", Purge{Kind: PurgeAll, Soft: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, page("item", "Surrogate-Key", "items"))
			g := newGateway(t, PolicySpec{TTL: time.Minute, StaleWhileRevalidate: time.Minute}, o, Options{})
			g.get(t, "/item/1", nil)
			req := peekRequest("GET", "/item/1")
			res, ok := g.c.Peek(req, g.p)
			if !ok {
				t.Fatal("no fresh entry after the fill")
			}
			e := res.Entry
			stored := g.clock.Now().UnixNano()
			if fu := e.FreshUntil(); fu != stored+int64(time.Minute) {
				t.Fatalf("FreshUntil %d, want stored at %d + 1m", fu, stored)
			}
			g.clock.Advance(time.Second)
			purgedAt := g.clock.Now().UnixNano()
			before := Generation()
			g.c.Purge(tc.purge)
			if after := Generation(); after <= before {
				t.Fatalf("Generation %d after the purge, want more than %d", after, before)
			}
			g.c.PeekServe(req, g.p, nil, nil) // the lookup that applies a lazy purge
			want := stored + int64(time.Minute)
			if tc.purge.Soft {
				want = purgedAt
			}
			if fu := e.FreshUntil(); fu != want {
				t.Fatalf("FreshUntil %d after the purge, want %d", fu, want)
			}
			if _, ok := g.c.Peek(req, g.p); ok {
				t.Fatal("Peek still answers fresh after the purge")
			}
		})
	}
}
