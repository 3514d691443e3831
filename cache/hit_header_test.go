package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestHitHeader: a fresh hit copies a header built once per entry,
// encoding and Age value (Entry.hitHeader). It must send exactly what
// setting the headers one by one sends (the miss that stored the entry,
// with X-Cache: HIT), in every encoding, and follow the Age as the clock
// moves, within a second too.
func TestHitHeader(t *testing.T) {
	body := strings.Repeat("<p>flash sale</p>", 100)
	o := newOrigin(t, page(body, "Cache-Control", "public, max-age=60", "ETag", `"v1"`, "X-Shop", "demo"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	encodings := []struct{ accept, enc, etag string }{
		{"", "", `"v1"`},
		{"gzip", "gzip", `"v1-gzip"`},
		{"br, gzip", "br", `"v1-br"`},
	}
	for _, e := range encodings {
		accept := func(r *fasthttp.Request) {
			if e.accept != "" {
				r.Header.Set("Accept-Encoding", e.accept)
			}
		}
		path := "/p-" + e.enc
		miss := g.get(t, path, accept)
		if miss.xcache != "MISS" {
			t.Fatalf("%q: first request X-Cache %q, want MISS", e.accept, miss.xcache)
		}
		want := strings.Replace(miss.header.String(), "X-Cache: MISS", "X-Cache: HIT", 1)
		steps := []struct {
			advance time.Duration
			age     string
		}{{0, "0"}, {0, "0"}, {1500 * time.Millisecond, "1"}, {400 * time.Millisecond, "1"}, {200 * time.Millisecond, "2"}, {0, "2"}}
		for i, s := range steps {
			g.clock.Advance(s.advance)
			hit := g.get(t, path, accept)
			if hit.xcache != "HIT" || hit.age != s.age || hit.enc != e.enc || hit.etag != e.etag {
				t.Fatalf("%q step %d: X-Cache %q Age %q Content-Encoding %q ETag %q; want HIT %q %q %q",
					e.accept, i, hit.xcache, hit.age, hit.enc, hit.etag, s.age, e.enc, e.etag)
			}
			if got := strings.Replace(hit.header.String(), "Age: "+s.age, "Age: 0", 1); got != want {
				t.Fatalf("%q step %d: hit header\n%s\nwant the miss's\n%s", e.accept, i, got, want)
			}
			if hit.body != miss.body {
				t.Fatalf("%q step %d: body differs from the miss's", e.accept, i)
			}
		}
	}
	if n := o.hits.Load(); n != int64(len(encodings)) {
		t.Fatalf("origin hits %d, want %d", n, len(encodings))
	}
}

// TestHitHeaderOlderRequest: a request that began just before a second
// turned (its Age one less than the stored hit header's) gets its own
// Age through the slow path and leaves the newer header in place, so that
// requests of two seconds do not take turns rebuilding it.
func TestHitHeaderOlderRequest(t *testing.T) {
	f := newPeekFixture(t)
	f.fill(t, "/young")
	res, ok := f.c.Peek(peekRequest("GET", "/young"), f.p)
	if !ok {
		t.Fatal("no entry for /young")
	}
	e, req := res.Entry, peekRequest("GET", "/young")
	write := func(at int64) *fasthttp.Response {
		resp := &fasthttp.Response{}
		entryResult(Hit, e, at).Write(req, resp)
		return resp
	}
	newer := write(e.StoredAt() + 2e9)
	older := write(e.StoredAt() + 1e9)
	if a, b := string(newer.Header.Peek("Age")), string(older.Header.Peek("Age")); a != "2" || b != "1" {
		t.Fatalf("Age %q then %q, want 2 then 1", a, b)
	}
	if h := e.hits[Identity].Load(); h == nil || h.age != 2 {
		t.Fatalf("stored hit header %+v, want the one for Age 2 kept", h)
	}
	want := strings.Replace(newer.Header.String(), "Age: 2", "Age: 1", 1)
	if got := older.Header.String(); got != want || string(older.Body()) != string(newer.Body()) {
		t.Fatalf("older request's answer\n%s\nwant the hit header with its own Age\n%s", got, want)
	}
}
