package proxy

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
)

// TestOutboundClassAgrees: the length-indexed classifier buildOutbound
// uses gives the answer of the documented predicates (isHopHeader,
// isRebuiltHeader, Expect, isDroppedFromUntrusted) for every listed name
// in several spellings, Proxy-* names, names listed in Connection, and
// ordinary headers.
func TestOutboundClassAgrees(t *testing.T) {
	names := []string{
		"Accept", "Accept-Encoding", "Cookie", "User-Agent", "X-Custom", "Authorization",
		"Proxy-Authorization", "proxy-connection", "Proxy-", "Proxy", "Expect", "EXPECT",
		"X-Forwarded-Fo", "X-Forwarded-Forx", "Hostname", "Vias", "T", "TE", "te",
		"A-Very-Long-Header-Name-Beyond-The-Table",
	}
	for _, lists := range [][]string{hopHeaders[:], untrustedHeaders[:],
		{hdrXFF, hdrXFProto, hdrXFHost, hdrVia, hdrRequestID, "Content-Length", "Host"}} {
		for _, n := range lists {
			names = append(names, n, upperASCII(n), lowerASCII(n))
		}
	}
	conns := []string{"", "keep-alive", "X-Custom, Forwarded", " forwarded ,x-secret", "Accept"}
	for _, name := range names {
		for _, conn := range conns {
			k, c := []byte(name), []byte(conn)
			want := keepHeader
			switch {
			case isHopHeader(k, c), isRebuiltHeader(k), equalFold(k, "Expect"):
				want = dropAlways
			case isDroppedFromUntrusted(k):
				want = dropUntrusted
			}
			if got := outboundClass(k, c); got != want {
				t.Errorf("outboundClass(%q, Connection %q) = %d, want %d", name, conn, got, want)
			}
		}
	}
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// TestKeyAsSentMemoAgrees: a cache stage answers "does the key read only
// headers the origin receives as sent" once per route for requests whose
// Connection header names nothing (cacheStage.keyAsSent). For every policy
// keyed on a listed header, from a trusted peer or not, that answer must
// be the one Exchange.SentAsIs gives on such a request; and a Connection
// header naming anything else must not count as plain.
func TestKeyAsSentMemoAgrees(t *testing.T) {
	names := []string{"", "X-Region", "Accept-Language", "Authorization", "Cookie", "Keep-Alive",
		"Connection", "Proxy-Authorization", hdrXFF, hdrXFHost, hdrVia, hdrRequestID, "Forwarded", "X-Real-IP"}
	names = append(names, untrustedHeaders[:]...)
	for _, name := range names {
		spec := cache.PolicySpec{TTL: time.Minute}
		if name != "" {
			spec.Key.Headers = []string{name}
		}
		p, err := cache.CompilePolicy(spec)
		if err != nil {
			t.Fatalf("policy keyed on %q: %v", name, err)
		}
		st := newCacheStage(nil, p, nil)
		for _, trusted := range []bool{false, true} {
			for _, conn := range []string{"", "keep-alive", "Keep-Alive"} {
				var ctx fasthttp.RequestCtx
				if conn != "" {
					ctx.Request.Header.Set("Connection", conn)
				}
				x := &Exchange{Ctx: &ctx, peerTrusted: trusted}
				if !x.plainConnection() {
					t.Fatalf("Connection %q: not plain", conn)
				}
				if got, want := st.keyAsSent[b2i(trusted)], p.ReadsOnlyAsSent(x); got != want {
					t.Errorf("key header %q, trusted %v, Connection %q: memo %v, SentAsIs says %v", name, trusted, conn, got, want)
				}
			}
		}
	}
	for _, conn := range []string{"close", "X-Region", "keep-alive, X-Region"} {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.Set("Connection", conn)
		if x := (&Exchange{Ctx: &ctx}); x.plainConnection() {
			t.Errorf("Connection %q counted as plain", conn)
		}
	}
}
