package proxy

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
)

// FuzzClientIP checks ClientIP's properties on arbitrary X-Forwarded-For
// values: an untrusted peer is always the answer; otherwise the answer is
// the peer or an address written in the header, and it is untrusted unless
// every address to its right is trusted too (a client cannot make itself
// look like one of our proxies).
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "6.6.6.6, 198.51.100.7, 10.2.2.2", "10.1.1.1,10.2.2.2", "x, 1.1.1.1",
		"2001:db8::1, ::ffff:10.0.0.9", " , ,", "1.1.1.1%eth0", "fe80::1%eth0, 10.0.0.1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	trusted := mustPrefixes("10.0.0.0/8", "2001:db8::/32")
	f.Fuzz(func(t *testing.T, xff string, fromCDN bool) {
		peer := netip.MustParseAddr("192.0.2.1")
		if fromCDN {
			peer = netip.MustParseAddr("10.0.0.1")
		}
		var req fasthttp.Request
		req.Header.Set("X-Forwarded-For", xff)
		xff = string(req.Header.Peek("X-Forwarded-For")) // what fasthttp kept of it
		ctx := &fasthttp.RequestCtx{}
		ctx.Init(&req, net.TCPAddrFromAddrPort(netip.AddrPortFrom(peer, 1)), nil)
		got := ClientIP(ctx, trusted)
		if !fromCDN {
			if got != peer {
				t.Fatalf("untrusted peer: ClientIP = %v, want the peer %v", got, peer)
			}
			return
		}
		if got == peer {
			return
		}
		entries := strings.Split(xff, ",")
		for i := len(entries) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(entries[i]))
			if err != nil {
				t.Fatalf("ClientIP = %v, but entry %q to its right is malformed and must stop the walk", got, entries[i])
			}
			if a.Unmap() == got {
				return
			}
			if !edge.InPrefixes(a.Unmap(), trusted) {
				t.Fatalf("ClientIP = %v skipped the untrusted entry %v", got, a)
			}
		}
		t.Fatalf("ClientIP = %v is neither the peer nor in X-Forwarded-For %q", got, xff)
	})
}
