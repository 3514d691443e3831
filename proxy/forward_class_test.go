package proxy

import "testing"

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
