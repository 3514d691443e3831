package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// checkRequest is the edge's check of what fasthttp parsed but HTTP does
// not allow, then of the Host (checkHost); nil when the request may go on.
// It also re-arms the connection's bare-LF check (bare_lf.go) for the
// next request. It allocates nothing.
func checkRequest(ctx *fasthttp.RequestCtx, hosts [][]byte) *answer {
	if armLF(ctx.Conn()) {
		return ansBareLF // closes: the connection's reader holds errBareLF
	}
	for k := range ctx.Request.Header.All() {
		if !isTokenName(k) {
			return ansBadHeaderName
		}
	}
	return checkHost(ctx.Host(), hosts)
}

// isTokenName reports whether a header name is a token (RFC 9110 §5.1,
// §5.6.2). fasthttp refuses most bad names but keeps one with an inner
// space ("Bad Name"), which the forwarding would pass to the origin as is,
// and origins split such a line differently.
func isTokenName(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

// tokenByte holds the tchar of RFC 9110 §5.6.2.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-32] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// hostList returns server.hosts as the byte slices checkHost compares.
func hostList(hosts []string) [][]byte {
	out := make([][]byte, len(hosts))
	for i, h := range hosts {
		out[i] = []byte(h)
	}
	return out
}

// checkHost returns the edge answer for a request whose Host is missing, or
// not among allowed (compared without port and trailing dot, ignoring
// case); nil when the request may go on. It allocates nothing.
func checkHost(host []byte, allowed [][]byte) *answer {
	if len(host) == 0 {
		return ansNoHost
	}
	if len(allowed) == 0 {
		return nil
	}
	name := hostName(host)
	for _, a := range allowed {
		if bytes.EqualFold(name, a) {
			return nil
		}
	}
	return ansWrongHost
}

// hostName strips the port and a trailing dot from a Host header value:
// "Shop.Example.:8080" → "Shop.Example", "[::1]:8080" → "[::1]".
func hostName(host []byte) []byte {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && !bytes.HasSuffix(host, []byte("]")) {
		if host[0] != '[' || bytes.LastIndexByte(host, ']') < i {
			host = host[:i]
		}
	}
	return bytes.TrimSuffix(host, []byte("."))
}
