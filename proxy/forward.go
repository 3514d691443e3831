package proxy

// Forwarding correctness lives in this one file: which headers cross the
// gateway in each direction, which are rewritten, and which client the
// request is attributed to. References:
//   - RFC 9110 §7.6.1 (Connection), §7.6.3 (Via), §10.1.4 (TE)
//   - RFC 9112 §6.1 (Transfer-Encoding), §9.6 (Connection: close)
//   - RFC 7239 (Forwarded) and the de-facto X-Forwarded-* headers
// The layout follows net/http/httputil's removeHopByHopHeaders: headers
// named in Connection are removed first, then the fixed list.

import (
	"bytes"
	"net/netip"
	"unsafe"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
)

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1 plus the
// de-facto ones (Keep-Alive, Proxy-Connection) that HTTP/1.0-era proxies
// send. They describe one connection and must never be forwarded. Any
// header whose name starts with "Proxy-" is also dropped (isHopHeader):
// Proxy-Authorization carries the credentials of a proxy hop, not of the
// origin, and Proxy-Authenticate is its answer.
var hopHeaders = [...]string{
	"Connection",
	"Keep-Alive",
	"TE",                // RFC 9110 §10.1.4: hop-by-hop; fasthttp never sends trailers upstream
	"Trailer",           // RFC 9110 §6.6.2: bodies are buffered, trailers are not relayed
	"Transfer-Encoding", // RFC 9112 §6.1: the body is re-framed with Content-Length
	"Upgrade",           // RFC 9110 §7.8: no protocol switching through the gateway
}

// untrustedHeaders are dropped unless the peer is a trusted proxy: origins
// and frameworks reflect them into URLs, redirects and cached pages, so a
// client that can set them can poison a page for everyone (FIELD-NOTES,
// "Caching and leaks"). Content-Length is listed because the outbound body
// is set explicitly and fasthttp computes its length.
var untrustedHeaders = [...]string{
	"Forwarded", // RFC 7239; we do not emit it, X-Forwarded-* is what origins read
	"X-Original-URL",
	"X-Rewrite-URL",
	"X-HTTP-Method-Override",
	"X-HTTP-Method",
	"X-Method-Override",
	// Frameworks build absolute URLs and redirects from these (Symfony and
	// Laravel read X-Forwarded-Port and -Prefix): a client's value would be
	// cached into the page for everyone.
	"X-Forwarded-Port",
	"X-Forwarded-Prefix",
	"X-Forwarded-Server",
	"X-Forwarded-Scheme",
	"X-Forwarded-Ssl",
	"X-Forwarded-Uri",
	"X-Original-Host",
	"X-Host",
	// Client-address headers that origins use for their own limits and
	// logs: only the gateway says who the client is (X-Forwarded-For).
	"X-Real-IP",
	"X-Client-IP",
	"Client-IP",
	"True-Client-IP",
	"X-Cluster-Client-IP",
	"CF-Connecting-IP",
	"Fastly-Client-IP",
	"X-Original-Forwarded-For",
	// User-identity headers that shops and auth proxies trust (the demo
	// shop reads X-User-Id): from a client they let it act as anyone, past
	// limits keyed on its cookie. Declare the ones your shop reads in
	// origins.<name>.identity to drop them from trusted peers too, or have
	// the gateway set them (identity.go).
	"X-User-Id",
	"X-User",
	"X-Remote-User",
	"Remote-User",
	"X-Forwarded-User",
	"X-Forwarded-Email",
	"X-Authenticated-User",
	"X-Auth-User",
	"X-Auth-Request-User",
	"X-Auth-Request-Email",
}

// Header names set by the gateway itself.
const (
	hdrXFF       = "X-Forwarded-For"
	hdrXFProto   = "X-Forwarded-Proto"
	hdrXFHost    = "X-Forwarded-Host"
	hdrVia       = "Via"
	hdrRequestID = "X-Request-Id"
	viaToken     = "1.1 flashgate" // RFC 9110 §7.6.3: received-protocol + pseudonym
)

// The same names as []byte in fasthttp's canonical form (the form its
// parser stores), for PeekCanonical and SetCanonical. The string-keyed
// Peek, Set and SetBytesV copy and re-normalise the name on every call;
// on a cache hit or an edge rejection that was a tenth of the handler's
// instructions (callgrind). Keys are canonical on both sides whether or
// not the server normalises names: with normalising off, Peek compares
// the name as given, which is this same spelling.
var (
	keyXFF        = []byte(hdrXFF)
	keyXFProto    = []byte(hdrXFProto)
	keyXFHost     = []byte(hdrXFHost)
	keyVia        = []byte(hdrVia)
	keyConnection = []byte("Connection")
	valHTTP       = []byte("http")
	valHTTPS      = []byte("https")
)

// hopByLen holds hopHeaders indexed by length: every header of every
// origin response is classified, most by one length check.
var hopByLen = func() (t [len("Transfer-Encoding") + 1][]string) {
	for _, h := range hopHeaders {
		t[len(h)] = append(t[len(h)], h)
	}
	return t
}()

// isHopHeader reports whether key is hop-by-hop: in the fixed list, a
// Proxy-* header, or named by the message's Connection header (conn).
func isHopHeader(key, conn []byte) bool {
	if len(key) < len(hopByLen) {
		for _, h := range hopByLen[len(key)] {
			if equalFold(key, h) {
				return true
			}
		}
	}
	if len(key) >= 6 && equalFold(key[:6], "Proxy-") {
		return true
	}
	return connectionNames(conn, key)
}

// connectionNames reports whether the comma-separated Connection value conn
// lists the header name key (RFC 9110 §7.6.1: "a proxy MUST ... remove any
// header field ... listed as a connection option").
func connectionNames[K string | []byte](conn []byte, key K) bool {
	for len(conn) > 0 {
		var tok []byte
		if i := bytes.IndexByte(conn, ','); i >= 0 {
			tok, conn = conn[:i], conn[i+1:]
		} else {
			tok, conn = conn, nil
		}
		if tok = bytes.TrimSpace(tok); len(tok) > 0 && equalFold(key, tok) {
			return true
		}
	}
	return false
}

// isRebuiltHeader reports headers that buildOutbound writes itself.
func isRebuiltHeader(key []byte) bool {
	if equalFold(key, hdrXFF) || equalFold(key, hdrXFProto) || equalFold(key, hdrXFHost) ||
		equalFold(key, hdrVia) || equalFold(key, hdrRequestID) || equalFold(key, "Content-Length") ||
		equalFold(key, "Host") {
		// Rebuilt by buildOutbound whatever the peer; never copied verbatim.
		return true
	}
	return false
}

func isDroppedFromUntrusted(key []byte) bool {
	for _, h := range untrustedHeaders {
		if equalFold(key, h) {
			return true
		}
	}
	return false
}

// Why buildOutbound leaves a client's header out.
const (
	keepHeader    uint8 = iota
	dropAlways          // hop-by-hop, rebuilt by buildOutbound, or Expect
	dropUntrusted       // in untrustedHeaders: kept from a trusted peer only
)

// fixedDrops holds the names of fixed length that buildOutbound drops,
// indexed by length, so that classifying a header costs one or two
// comparisons instead of one per listed name (every header of every
// forwarded request and cache lookup goes through it). Built from the
// lists above by the predicates above, so the two cannot disagree.
var fixedDrops = func() (t [32][]struct {
	name  string
	class uint8
}) {
	add := func(name string, class uint8) {
		t[len(name)] = append(t[len(name)], struct {
			name  string
			class uint8
		}{name, class})
	}
	for _, h := range hopHeaders {
		add(h, dropAlways)
	}
	for _, h := range [...]string{hdrXFF, hdrXFProto, hdrXFHost, hdrVia, hdrRequestID, "Content-Length", "Host", "Expect"} {
		add(h, dropAlways)
	}
	for _, h := range untrustedHeaders {
		add(h, dropUntrusted)
	}
	return t
}()

// outboundClass classifies a client header for buildOutbound: the same
// answer as isHopHeader || isRebuiltHeader || Expect (dropAlways), else
// isDroppedFromUntrusted (dropUntrusted), else keepHeader.
func outboundClass[K string | []byte](key K, conn []byte) uint8 {
	class := keepHeader
	if len(key) < len(fixedDrops) {
		for _, d := range fixedDrops[len(key)] {
			if equalFold(key, d.name) {
				class = d.class
				break
			}
		}
	}
	if class == dropAlways {
		return dropAlways
	}
	// A name the client lists in Connection is hop-by-hop even when it is
	// one a trusted peer may otherwise send (Forwarded).
	if len(key) >= 6 && equalFold(key[:6], "Proxy-") || connectionNames(conn, key) {
		return dropAlways
	}
	return class
}

// buildOutbound fills out, a reset request, with the request to send to the
// origin. The inbound request is never mutated: filters may still read it,
// and fasthttp owns its buffers. x.Path, the normalised path that was
// matched, is what the origin receives (plus the original query). host is
// the Host header to send (already resolved from the route, origin and
// client). out's body aliases the inbound body, so out must not outlive the
// request (the cache copies it for a background revalidation).
func buildOutbound(x *Exchange, out *fasthttp.Request, host []byte) {
	in := &x.Ctx.Request
	trusted := x.peerTrusted
	conn := in.Header.PeekCanonical(keyConnection)

	out.Header.DisableNormalizing()
	out.Header.SetMethodBytes(in.Header.Method())
	x.scratch = append(x.scratch[:0], x.Path...)
	if q := in.URI().QueryString(); len(q) > 0 {
		x.scratch = append(append(x.scratch, '?'), q...)
	}
	out.Header.SetRequestURIBytes(x.scratch)
	out.Header.SetHostBytes(host)
	out.UseHostHeader = true

	var ids identityHeaders
	if x.Route != nil {
		ids = x.Route.identity
	}
	for k, v := range in.Header.All() {
		if len(ids) > 0 && ids.has(k) {
			continue // the origin's identity headers come from the gateway only (identity.go)
		}
		// Dropped: hop-by-hop, rebuilt below, and Expect: end-to-end
		// (RFC 9110 §10.1.1), but fasthttp has already answered
		// "100-continue" and read the whole body, so passing it on would
		// only make the origin send a useless interim 100. From an
		// untrusted peer, untrustedHeaders too.
		switch outboundClass(k, conn) {
		case keepHeader:
			out.Header.AddBytesKV(k, v)
		case dropUntrusted:
			if trusted {
				out.Header.AddBytesKV(k, v)
			}
		}
	}
	ids.set(in, out)
	setForwarded(x, out, trusted)
	out.SetBodyRaw(in.Body())
}

// setForwarded writes X-Forwarded-For/-Proto/-Host, Via and X-Request-Id.
// From a trusted peer the incoming X-Forwarded-* describe the real client
// and are extended (XFF) or kept (Proto, Host); from anyone else they are
// lies until proven otherwise and are replaced.
func setForwarded(x *Exchange, out *fasthttp.Request, trusted bool) {
	in := &x.Ctx.Request.Header
	b := x.scratch[:0]
	if prior := in.PeekCanonical(keyXFF); trusted && len(prior) > 0 {
		b = append(append(b, prior...), ", "...)
	}
	if x.peer.IsValid() {
		b = x.peer.AppendTo(b)
	} else {
		b = append(b, "unknown"...)
	}
	out.Header.SetCanonical(keyXFF, b)

	if v := in.PeekCanonical(keyXFProto); trusted && len(v) > 0 {
		out.Header.SetCanonical(keyXFProto, v)
	} else if x.Ctx.IsTLS() {
		out.Header.SetCanonical(keyXFProto, valHTTPS)
	} else {
		out.Header.SetCanonical(keyXFProto, valHTTP)
	}
	if v := in.PeekCanonical(keyXFHost); trusted && len(v) > 0 {
		out.Header.SetCanonical(keyXFHost, v)
	} else {
		out.Header.SetCanonical(keyXFHost, in.Host())
	}

	b = b[:0]
	if prior := in.PeekCanonical(keyVia); len(prior) > 0 {
		b = append(append(b, prior...), ", "...)
	}
	out.Header.SetCanonical(keyVia, append(b, viaToken...))
	out.Header.SetCanonical(keyRequestID, x.RequestID)
	x.scratch = b
}

// cleanResponse strips hop-by-hop headers from the origin's response in
// place and appends the gateway to Via. fasthttp keeps "Connection: close"
// as a flag rather than a header: it is reset so that an origin closing its
// connection does not close the client's. X-Request-Id is added by the
// pipeline to every answer, not here: a cached response must not carry the
// id of the request that filled the cache. cleanResponse depends only on
// resp, so it is safe in a background revalidation.
func cleanResponse(resp *fasthttp.Response) {
	h := &resp.Header
	conn := h.Peek("Connection")
	// One pass collects what to delete and the prior Via. Names are copied
	// first: deleting while iterating would shift the header slots All is
	// walking. The buffers stay on the stack unless an origin sends more
	// than 512 bytes of hop-by-hop header names or a Via over 240 bytes.
	var buf [512]byte
	var via [256]byte
	names, v, sawVia := buf[:0], via[:0], false
	for k, val := range h.All() {
		switch {
		// Alt-Svc advertises the origin's own alternative endpoints
		// (HTTP/3 on its address); clients must keep talking to the
		// gateway (Caddy strips it too).
		case isHopHeader(k, conn) || equalFold(k, "Alt-Svc"):
			names = append(append(names, k...), 0)
		case !sawVia && equalFold(k, hdrVia):
			v, sawVia = append(append(v, val...), ", "...), true
		}
	}
	for rest := names; len(rest) > 0; {
		i := bytes.IndexByte(rest, 0)
		h.DelBytes(rest[:i])
		rest = rest[i+1:]
	}
	h.ResetConnectionClose()
	h.SetCanonical(keyVia, append(v, viaToken...))
}

// ClientIP returns the address of the client that sent the request. When
// the TCP peer is in trusted (e.g. a CDN's ranges), it is the rightmost
// X-Forwarded-For entry that is not itself trusted: entries to its left
// were written by the client and can be forged, entries to its right by
// our own proxies. Otherwise it is the TCP peer. It returns the zero Addr
// when the peer is not an IP (e.g. an in-memory listener without one).
// trusted is read only; ClientIP allocates nothing.
func ClientIP(ctx *fasthttp.RequestCtx, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(ctx)
	if !edge.InPrefixes(peer, trusted) {
		return peer
	}
	return clientBehind(peer, ctx.Request.Header.PeekCanonical(keyXFF), trusted)
}

// clientBehind walks xff right to left from a trusted peer (see ClientIP).
func clientBehind(peer netip.Addr, xff []byte, trusted []netip.Prefix) netip.Addr {
	for len(xff) > 0 {
		var tok []byte
		if i := bytes.LastIndexByte(xff, ','); i >= 0 {
			tok, xff = xff[i+1:], xff[:i]
		} else {
			tok, xff = xff, nil
		}
		a, ok := parseAddr(bytes.TrimSpace(tok))
		if !ok {
			// A malformed entry ends the trustworthy part of the chain.
			return peer
		}
		if !edge.InPrefixes(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// peerAddr is the TCP peer's address, IPv4-mapped addresses unmapped so
// that "::ffff:10.0.0.1" matches a 10.0.0.0/8 prefix.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr { return edge.PeerAddr(ctx.RemoteAddr()) }

// parseAddr parses an IP without copying b: netip.ParseAddr does not retain
// its argument (a zone is interned by copy), so the unsafe view is sound and
// saves an allocation per X-Forwarded-For entry.
func parseAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// equalFold is an ASCII case-insensitive comparison without conversions.
func equalFold[K, S string | []byte](b K, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if c|0x20 != d|0x20 || (c|0x20 < 'a' || c|0x20 > 'z') && c != d {
			return false
		}
	}
	return true
}
