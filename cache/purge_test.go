package cache

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

type mapParams map[string]string

func (m mapParams) Get(name string) []byte {
	if v, ok := m[name]; ok {
		return []byte(v)
	}
	return nil
}

// TestPurge: each purge kind, hard and soft, against three cached pages.
// After a hard purge the purged pages miss; after a soft one they are
// served stale (shielding the origin) while a refresh runs.
func TestPurge(t *testing.T) {
	cases := []struct {
		name      string
		purge     Purge
		wantCount int
		want      map[string]string // path → X-Cache after the purge
	}{
		{"url hard", Purge{Kind: PurgeURL, Host: "SHOP.test", Path: "/item/1"}, 2,
			map[string]string{"/item/1": "MISS", "/item/1?color=red": "MISS", "/item/2": "HIT", "/cart/x": "HIT"}},
		{"url soft", Purge{Kind: PurgeURL, Host: "shop.test", Path: "/item/1", Soft: true}, 2,
			map[string]string{"/item/1": "STALE", "/item/2": "HIT"}},
		{"prefix hard", Purge{Kind: PurgePrefix, Host: "shop.test", Path: "/item/"}, 0,
			map[string]string{"/item/1": "MISS", "/item/2": "MISS", "/cart/x": "HIT"}},
		{"prefix soft", Purge{Kind: PurgePrefix, Host: "shop.test", Path: "/item/", Soft: true}, 0,
			map[string]string{"/item/1": "STALE", "/item/2": "STALE", "/cart/x": "HIT"}},
		{"origin tag hard", Purge{Kind: PurgeTag, Tag: "items"}, 3,
			map[string]string{"/item/1": "MISS", "/item/2": "MISS", "/cart/x": "HIT"}},
		{"rule tag hard", Purge{Kind: PurgeTag, Tag: "item:1"}, 2,
			map[string]string{"/item/1": "MISS", "/item/2": "HIT"}},
		{"origin Cache-Tag soft", Purge{Kind: PurgeTag, Tag: "cart", Soft: true}, 1,
			map[string]string{"/cart/x": "STALE", "/item/1": "HIT"}},
		{"all hard", Purge{Kind: PurgeAll}, 0,
			map[string]string{"/item/1": "MISS", "/item/2": "MISS", "/cart/x": "MISS"}},
		{"all soft", Purge{Kind: PurgeAll, Soft: true}, 0,
			map[string]string{"/item/1": "STALE", "/item/2": "STALE", "/cart/x": "STALE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
				if string(ctx.Path()) == "/cart/x" {
					ctx.Response.Header.Set("Cache-Tag", "cart, sale-7")
				} else {
					ctx.Response.Header.Set("Surrogate-Key", "sale-7 items")
				}
				ctx.SetBodyString("page")
			})
			g := newGateway(t, PolicySpec{TTL: time.Minute, StaleWhileRevalidate: time.Minute,
				Key: KeySpec{Query: "all"}, Tags: []string{"item:{id}"}}, o, Options{})
			pages := []struct{ uri, id string }{{"/item/1", "1"}, {"/item/1?color=red", "1"}, {"/item/2", "2"}, {"/cart/x", ""}}
			for _, p := range pages {
				g.params = mapParams{"id": p.id}
				g.get(t, p.uri, nil)
			}
			g.clock.Advance(time.Second)
			if n := g.c.Purge(tc.purge); n != tc.wantCount {
				t.Fatalf("Purge returned %d, want %d", n, tc.wantCount)
			}
			for uri, want := range tc.want {
				if r := g.get(t, uri, nil); r.xcache != want {
					t.Errorf("%s after purge: X-Cache %q, want %q", uri, r.xcache, want)
				}
			}
			g.settle()
		})
	}
}

// TestPurgeSpareNewEntries: a prefix ban does not hit pages stored after it.
func TestPurgeSpareNewEntries(t *testing.T) {
	o := newOrigin(t, page("p"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	g.get(t, "/a", nil)
	g.clock.Advance(time.Second)
	g.c.Purge(Purge{Kind: PurgePrefix, Host: "shop.test", Path: "/"})
	g.clock.Advance(time.Second)
	want := []string{"MISS", "HIT"}
	for i, w := range want {
		if r := g.get(t, "/a", nil); r.xcache != w {
			t.Fatalf("request %d after ban: %q, want %q", i, r.xcache, w)
		}
	}
}

// TestMemoryStaysWithinMaxBytes writes ten times max_bytes of distinct
// pages; the store's cost and the heap stay bounded.
func TestMemoryStaysWithinMaxBytes(t *testing.T) {
	const maxBytes = 1 << 20
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/octet-stream")
		ctx.SetBody(make([]byte, 10<<10))
	})
	c, err := New(Options{MaxBytes: maxBytes, MaxObject: 64 << 10, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, _ := CompilePolicy(PolicySpec{TTL: time.Hour, Tags: []string{"t:{n}"}})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	req, resp := &fasthttp.Request{}, &fasthttp.Response{}
	for i := range 10 * maxBytes / (10 << 10) {
		req.SetRequestURI(fmt.Sprintf("http://shop.test/page/%d", i))
		if _, err := c.Do(req, resp, p, mapParams{"n": fmt.Sprint(i)}, o.fetch); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if i%64 == 0 {
			c.Wait()
			if used := c.UsedBytes(); used > maxBytes {
				t.Fatalf("after %d pages the store holds %d bytes, over max_bytes %d", i, used, maxBytes)
			}
		}
	}
	c.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 3*maxBytes {
		t.Fatalf("heap grew by %d bytes writing %d; want under 3× max_bytes (%d)", grown, 10*maxBytes, 3*maxBytes)
	}
	if c.UsedBytes() > maxBytes || c.UsedBytes() < maxBytes/4 {
		t.Fatalf("store holds %d bytes, want between a quarter of and max_bytes %d", c.UsedBytes(), maxBytes)
	}
	c.tags.mu.Lock()
	refs := c.tags.refs
	c.tags.mu.Unlock()
	if maxRefs := 2 * maxBytes / 10000; refs > maxRefs {
		t.Fatalf("tag index holds %d references for at most ~100 stored pages; cleanup on exit is broken", refs)
	}
}

func TestItemsCountsStoredResponses(t *testing.T) {
	g := newGateway(t, PolicySpec{TTL: time.Minute}, newOrigin(t, page("p")), Options{})
	for _, p := range []string{"/a", "/b", "/c"} {
		g.get(t, p, nil)
	}
	g.c.Wait()
	if got := g.c.Items(); got != 3 {
		t.Fatalf("Items = %d after storing 3", got)
	}
	g.get(t, "/a", nil) // a hit stores nothing
	g.c.Purge(Purge{Kind: PurgeURL, Host: "shop.test", Path: "/a"})
	g.c.Wait()
	if got := g.c.Items(); got != 2 {
		t.Fatalf("Items = %d after purging 1 of 3", got)
	}
	g.settle()
}
