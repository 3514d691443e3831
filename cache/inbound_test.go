package cache

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// forwardOnly is a HeaderForwarding that passes every header but the
// listed ones (case-insensitive).
type forwardOnly []string

func (f forwardOnly) SentAsIs(name string) bool {
	for _, n := range f {
		if strings.EqualFold(n, name) {
			return false
		}
	}
	return true
}

// TestPeekInbound: the fast path answers exactly the fresh hits Peek gives
// for the request the origin would be sent, and declines (false, nothing
// counted) whenever the key could read something the origin would not see
// as the client sent it.
func TestPeekInbound(t *testing.T) {
	f := newPeekFixture(t)
	var err error
	f.p, err = CompilePolicy(PolicySpec{TTL: 10 * time.Second, StaleWhileRevalidate: 10 * time.Second,
		SessionCookies: []string{"sid"}, Key: KeySpec{QueryParams: []string{"color", "size"}, Headers: []string{"X-Region"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.fill(t, "/stale")
	f.clock.Advance(11 * time.Second) // past its ttl, within stale_while_revalidate
	f.fill(t, "/item/1?size=m&color=red", "X-Region", "eu")
	f.fill(t, "/lang", "X-Lang", "en")
	f.fill(t, "/caf%C3%A9")
	f.fill(t, "/young")

	client := func(method, uri string, hdr ...string) *fasthttp.Request {
		r := peekRequest(method, uri, hdr...)
		r.Header.SetHost("client.example") // the origin is sent Inbound.Host, not this
		return r
	}
	for _, tc := range []struct {
		name string
		req  *fasthttp.Request
		path string
		fwd  HeaderForwarding
		hit  string // expected body, "" for false
	}{
		{"fresh hit", client("GET", "/item/1?color=red&size=m&utm=x", "X-Region", "eu"), "/item/1", nil, "page /item/1"},
		{"HEAD of a GET entry", client("HEAD", "/item/1?size=m&color=red", "X-Region", "eu"), "/item/1", nil, "page /item/1"},
		{"other key header value", client("GET", "/item/1?size=m&color=red", "X-Region", "us"), "/item/1", nil, ""},
		{"other query", client("GET", "/item/1?size=l&color=red", "X-Region", "eu"), "/item/1", nil, ""},
		{"key header not sent as is", client("GET", "/item/1?size=m&color=red", "X-Region", "eu"), "/item/1", forwardOnly{"x-region"}, ""},
		{"cookies not sent as is", client("GET", "/item/1?size=m&color=red", "X-Region", "eu"), "/item/1", forwardOnly{"Cookie"}, ""},
		{"vary followed", client("GET", "/lang", "X-Lang", "en"), "/lang", nil, "page in en"},
		{"vary header not sent as is", client("GET", "/lang", "X-Lang", "en"), "/lang", forwardOnly{"X-Lang"}, ""},
		{"other variant", client("GET", "/lang", "X-Lang", "de"), "/lang", nil, ""},
		{"escaped path declined", client("GET", "/caf%C3%A9"), "/caf%C3%A9", nil, ""},
		{"stale", client("GET", "/stale"), "/stale", nil, ""},
		{"young", client("GET", "/young"), "/young", nil, "page /young"},
		{"session cookie", client("GET", "/young", "Cookie", "sid=1"), "/young", nil, ""},
		{"authorization", client("GET", "/young", "Authorization", "Bearer x"), "/young", nil, ""},
		// Read off the wire: names normalised (a server's default) or kept
		// as the client spelled them; either way the credential is seen.
		{"authorization, normalised", parsed(t, true, "authorization: Bearer x"), "/young", nil, ""},
		{"authorization, as spelled", parsed(t, false, "aUTHORIZATION: Bearer x"), "/young", nil, ""},
		{"no credentials, as spelled", parsed(t, false, "x-other: 1"), "/young", nil, "page /young"},
		{"POST", client("POST", "/young"), "/young", nil, ""},
		{"other host", client("GET", "/young"), "/young", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := "shop.test"
			if tc.name == "other host" {
				host = "elsewhere.test"
			}
			before := f.c.m.byState[Hit].Get()
			res, ok := f.c.PeekInbound(&Inbound{Req: tc.req, Host: []byte(host), Path: []byte(tc.path), Forwarded: tc.fwd}, f.p, 0)
			counted := f.c.m.byState[Hit].Get() - before
			if tc.hit == "" {
				if ok || counted != 0 {
					t.Fatalf("PeekInbound = %v (counted %d), want false and nothing counted", ok, counted)
				}
				return
			}
			if !ok || res.State != Hit || string(res.Entry.Body()) != tc.hit || counted != 1 {
				t.Fatalf("PeekInbound = %v %v (counted %d), want a hit on %q", ok, res.State, counted, tc.hit)
			}
			// The slow path, on the request the origin is sent, finds the same entry.
			out := peekRequest("GET", string(tc.req.URI().RequestURI()))
			out.Header.SetHost(host)
			for k, v := range tc.req.Header.All() {
				if !strings.EqualFold(string(k), "Host") {
					out.Header.AddBytesKV(k, v)
				}
			}
			if slow, ok := f.c.Peek(out, f.p); !ok || slow.Entry != res.Entry {
				t.Fatalf("Peek on the outbound request = %v, %p; want the entry PeekInbound found", ok, slow.Entry)
			}
		})
	}
	for _, normalise := range []bool{true, false} {
		req := parsed(t, normalise, "authorization: Bearer x")
		f.c.PeekInbound(&Inbound{Req: req, Host: []byte("shop.test"), Path: []byte("/young")}, f.p, 0)
		req.Header.Set("x-after", "1") // normalised iff the request normalised before
		if got := req.Header.PeekAll("X-After") != nil; got != normalise {
			t.Errorf("PeekInbound changed whether the request normalises names: was %v", normalise)
		}
	}
	if got := f.o.hits.Load(); got != 5 {
		t.Errorf("origin calls %d, want the 5 fills only", got)
	}
}

// parsed reads "GET /young" with the given header line from the wire,
// with names normalised or kept as sent.
func parsed(t *testing.T, normalise bool, line string) *fasthttp.Request {
	t.Helper()
	req := &fasthttp.Request{}
	if !normalise {
		req.Header.DisableNormalizing()
	}
	raw := "GET /young HTTP/1.1\r\nHost: client.example\r\n" + line + "\r\n\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	return req
}
