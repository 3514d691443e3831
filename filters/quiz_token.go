package filters

import (
	"bytes"
	"net/netip"
	"strconv"

	"github.com/valyala/fasthttp"

	"flashgate/route"
)

// Helpers shared by the quiz and queue filters: where their tokens travel
// (a cookie for browsers, a header for apps), how cookies are set, and how
// a gateway page finds the client it serves.

// tokenFrom returns the token in header hdr or, failing that, cookie name;
// nil if neither is there. 0 allocs; valid until the request ends.
func tokenFrom(r *Request, hdr, cookie string) []byte {
	v := r.Ctx.Request.Header.Peek(hdr)
	if len(v) == 0 {
		v = r.Ctx.Request.Header.Cookie(cookie)
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

// setTokenCookie sets cookie name to tok on the response: HttpOnly (no
// script needs it), SameSite=Lax (sent on top-level navigation to the sale,
// not on cross-site subrequests), Secure when the client came over TLS,
// expiring with the token.
func setTokenCookie(r *Request, name string, tok []byte, ttl int64) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValueBytes(tok)
	c.SetPath("/")
	c.SetMaxAge(int(max(ttl/1e9, 1)))
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetSecure(r.TLS)
	r.Ctx.Response.Header.SetCookie(c)
}

// PageRequestKey is the fasthttp user value under which the proxy may hand
// a gateway page (/_flashgate/quiz/..., /_flashgate/queue/...) the
// *Request it resolved for this connection (ClientIP from trusted
// X-Forwarded-For, TLS, Now). Without it, pages use the peer address, the
// connection's TLS state and the Env clock.
const PageRequestKey = "flashgate.filters.request"

// pageRequest returns the Request a gateway page serves.
func pageRequest(ctx *fasthttp.RequestCtx, env *Env) *Request {
	if r, ok := ctx.UserValue(PageRequestKey).(*Request); ok && r != nil {
		return r
	}
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return &Request{Ctx: ctx, ClientIP: ip.Unmap(), TLS: ctx.IsTLS(), Now: env.Now()}
}

// localPath returns p normalised as the origin reads it if it is a path on
// this site ("/..." but not "//host" or "/\host", which browsers treat as
// another site), or "/" otherwise: return addresses come from the client
// and must not turn the gateway into an open redirect.
func localPath(p []byte) []byte {
	path, query, _ := bytes.Cut(p, []byte("?"))
	if len(path) == 0 || path[0] != '/' || (len(path) > 1 && (path[1] == '/' || path[1] == '\\')) {
		return []byte("/")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return []byte("/")
		}
	}
	n, err := route.Normalize(nil, path)
	if err != nil {
		return []byte("/")
	}
	if len(query) > 0 {
		n = append(append(n, '?'), query...)
	}
	return n
}

// refererPath returns the path and query of the Referer when it points at
// the host the request was sent to, else nil.
func refererPath(ctx *fasthttp.RequestCtx) []byte {
	ref := ctx.Request.Header.Referer()
	for _, scheme := range [][]byte{[]byte("https://"), []byte("http://")} {
		if rest, ok := bytes.CutPrefix(ref, scheme); ok {
			host, path, _ := bytes.Cut(rest, []byte("/"))
			if !bytes.EqualFold(host, ctx.Request.Header.Host()) {
				return nil
			}
			return append([]byte("/"), path...)
		}
	}
	return nil
}

// appendJSONString appends s as a JSON string; <, > and & are escaped so
// the value is also safe inside HTML.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// secondsCeil converts nanoseconds to whole seconds, rounding up, at least 1.
func secondsCeil(ns int64) int64 { return max((ns+1e9-1)/1e9, 1) }

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
