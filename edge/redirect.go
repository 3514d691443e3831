package edge

import (
	"net"

	"github.com/valyala/fasthttp"
)

// Redirect returns the handler of the plain-HTTP listener
// (server.tls.redirect_listen): every request gets 308 Permanent Redirect
// to the same host and URI over https, on the port httpsPort returns when
// it is not 443 (asked per request: the TLS listener may be opened after
// this one, on a port chosen then). 308 rather than 301, so that a POST
// stays a POST. A Host that is not a plain host name or address gets 400:
// it would be copied into Location.
func Redirect(httpsPort func() string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		host := hostOnly(ctx.Host())
		if len(host) == 0 || !plainHost(host) {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBodyString("bad Host header\n")
			return
		}
		loc := append([]byte("https://"), host...)
		if p := httpsPort(); p != "443" && p != "" {
			loc = append(append(loc, ':'), p...)
		}
		loc = append(loc, ctx.RequestURI()...)
		ctx.Response.Header.SetBytesV("Location", loc)
		ctx.Response.Header.Set("Cache-Control", "max-age=3600")
		ctx.SetStatusCode(fasthttp.StatusPermanentRedirect)
		ctx.SetConnectionClose()
	}
}

// hostOnly strips a port from a Host header value.
func hostOnly(h []byte) []byte {
	if hp, _, err := net.SplitHostPort(string(h)); err == nil {
		if len(h) > 0 && h[0] == '[' {
			return []byte("[" + hp + "]")
		}
		return []byte(hp)
	}
	return h
}

// plainHost reports whether h holds only the bytes of a host name or an
// IP literal, so that it cannot add a path, userinfo or header to a URL.
func plainHost(h []byte) bool {
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}
