package cache

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/valyala/fasthttp"
)

// TestVary: one entry per value of the headers the origin varies on.
func TestVary(t *testing.T) {
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Vary", "X-Lang, Accept-Encoding")
		ctx.SetBodyString("hello in " + string(ctx.Request.Header.Peek("X-Lang")))
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	lang := func(l string) func(*fasthttp.Request) {
		return func(r *fasthttp.Request) { r.Header.Set("X-Lang", l) }
	}
	steps := []struct{ lang, body, xcache string }{
		{"fr", "hello in fr", "MISS"},
		{"de", "hello in de", "MISS"},
		{"fr", "hello in fr", "HIT"},
		{"de", "hello in de", "HIT"},
		{"", "hello in ", "MISS"},
	}
	for i, s := range steps {
		r := g.get(t, "/hello", lang(s.lang))
		if r.body != s.body || r.xcache != s.xcache {
			t.Fatalf("step %d: got %q %q, want %q %q", i, r.body, r.xcache, s.body, s.xcache)
		}
		if !strings.Contains(r.vary, "X-Lang") {
			t.Fatalf("step %d: Vary %q, want the origin's X-Lang kept for downstream caches", i, r.vary)
		}
	}
}

// TestClientConditionals: 304 from the stored entry, per encoding.
func TestClientConditionals(t *testing.T) {
	body := strings.Repeat("<p>flash sale</p>", 100)
	o := newOrigin(t, page(body, "ETag", `"abc"`, "Last-Modified", "Tue, 10 Nov 2026 00:00:00 GMT"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	g.get(t, "/p", nil)
	cases := []struct {
		name       string
		headers    []string
		wantStatus int
	}{
		{"matching ETag", []string{"If-None-Match", `"abc"`}, 304},
		{"weak matching ETag in a list", []string{"If-None-Match", `"zzz", W/"abc"`}, 304},
		{"star", []string{"If-None-Match", "*"}, 304},
		{"other ETag", []string{"If-None-Match", `"old"`}, 200},
		{"gzip ETag on a gzip request", []string{"If-None-Match", `"abc-gzip"`, "Accept-Encoding", "gzip"}, 304},
		{"identity ETag on a gzip request", []string{"If-None-Match", `"abc"`, "Accept-Encoding", "gzip"}, 200},
		{"not modified since", []string{"If-Modified-Since", "Wed, 11 Nov 2026 00:00:00 GMT"}, 304},
		{"modified since", []string{"If-Modified-Since", "Mon, 09 Nov 2026 00:00:00 GMT"}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"old"`,
			"If-Modified-Since", "Wed, 11 Nov 2026 00:00:00 GMT"}, 200},
	}
	for _, tc := range cases {
		r := g.get(t, "/p", func(r *fasthttp.Request) {
			for i := 0; i < len(tc.headers); i += 2 {
				r.Header.Set(tc.headers[i], tc.headers[i+1])
			}
		})
		if r.status != tc.wantStatus {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.wantStatus)
		}
		if tc.wantStatus == 304 && (r.body != "" || r.etag == "" || r.xcache != "HIT") {
			t.Errorf("%s: 304 with body %d bytes, ETag %q, X-Cache %q; want no body, the ETag, HIT",
				tc.name, len(r.body), r.etag, r.xcache)
		}
	}
	if o.hits.Load() != 1 {
		t.Fatalf("origin hits = %d, want 1", o.hits.Load())
	}
}

// TestHEAD: HEAD is answered from the GET entry (and a HEAD miss stores
// the full GET), without a body.
func TestHEAD(t *testing.T) {
	o := newOrigin(t, page("full body"))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	head := func(r *fasthttp.Request) { r.Header.SetMethod(fasthttp.MethodHead) }
	if r := g.get(t, "/p", head); r.status != 200 || r.body != "" || r.xcache != "MISS" {
		t.Fatalf("HEAD miss: got %d %q %q", r.status, r.body, r.xcache)
	}
	if m := o.lastMethod(); m != "GET" {
		t.Fatalf("a HEAD miss fetched with %s, want GET so the entry has a body", m)
	}
	if r := g.get(t, "/p", nil); r.body != "full body" || r.xcache != "HIT" {
		t.Fatalf("GET after HEAD: got %q %q, want the stored body as a HIT", r.body, r.xcache)
	}
	r := g.get(t, "/p", head)
	if r.body != "" || r.xcache != "HIT" || r.header.ContentLength() != len("full body") {
		t.Fatalf("HEAD hit: body %q X-Cache %q Content-Length %d, want none, HIT, %d",
			r.body, r.xcache, r.header.ContentLength(), len("full body"))
	}
}

// TestCompressionNegotiation: text is stored compressed once and served
// in the best encoding the client accepts, each with its own ETag.
func TestCompressionNegotiation(t *testing.T) {
	body := strings.Repeat("<li>item</li>\n", 600)
	o := newOrigin(t, page(body))
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	g.get(t, "/p", nil)
	cases := []struct{ accept, wantEnc string }{
		{"", ""},
		{"gzip", "gzip"},
		{"gzip, deflate, br", "br"},
		{"br;q=0, gzip", "gzip"},
		{"gzip;q=0", ""},
		{"identity", ""},
		{"*", "gzip"},
	}
	etags := map[string]string{}
	for _, tc := range cases {
		r := g.get(t, "/p", func(r *fasthttp.Request) {
			if tc.accept != "" {
				r.Header.Set("Accept-Encoding", tc.accept)
			}
		})
		if r.enc != tc.wantEnc || decode(t, r.enc, r.body) != body {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q (want %q) or body differs", tc.accept, r.enc, tc.wantEnc)
		}
		if !strings.Contains(r.vary, "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: Vary %q, want Accept-Encoding", tc.accept, r.vary)
		}
		if prev, ok := etags[r.enc]; ok && prev != r.etag {
			t.Errorf("ETag of %q changed between hits: %q then %q", r.enc, prev, r.etag)
		}
		etags[r.enc] = r.etag
	}
	if len(etags) != 3 || etags[""] == etags["gzip"] || etags["gzip"] == etags["br"] {
		t.Fatalf("ETags per encoding = %v, want three distinct tags", etags)
	}
	if o.hits.Load() != 1 {
		t.Fatalf("origin hits = %d, want 1", o.hits.Load())
	}
}

// TestNotCompressed: images and tiny bodies are stored identity only.
func TestNotCompressed(t *testing.T) {
	for _, tc := range []struct{ ct, body string }{
		{"image/png", strings.Repeat("x", 4096)},
		{"text/html", "tiny"},
	} {
		o := newOrigin(t, page(tc.body, "Content-Type", tc.ct))
		g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
		r := g.get(t, "/p", func(r *fasthttp.Request) { r.Header.Set("Accept-Encoding", "gzip, br") })
		if r.enc != "" || r.body != tc.body || strings.Contains(r.vary, "Accept-Encoding") {
			t.Errorf("%s: Content-Encoding %q Vary %q, want identity without Vary", tc.ct, r.enc, r.vary)
		}
	}
}

// TestOriginGzipDecoded: an origin that gzips anyway is decoded at store,
// so identity clients still get a readable page.
func TestOriginGzipDecoded(t *testing.T) {
	body := strings.Repeat("hello ", 200)
	o := newOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		ctx.Response.Header.Set("Content-Encoding", "gzip")
		ctx.SetBody(fasthttp.AppendGzipBytes(nil, []byte(body)))
	})
	g := newGateway(t, PolicySpec{TTL: time.Minute}, o, Options{})
	g.get(t, "/p", nil)
	if r := g.get(t, "/p", nil); r.enc != "" || r.body != body || r.xcache != "HIT" {
		t.Fatalf("identity client: Content-Encoding %q body ok=%v X-Cache %q", r.enc, r.body == body, r.xcache)
	}
}

func decode(t *testing.T, enc, body string) string {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		rd = zr
	case "br":
		rd = brotli.NewReader(rd)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, rd); err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out.String()
}
