package demo

import "github.com/valyala/fasthttp"

// maxUserLen bounds a user id; longer ids are treated as absent.
const maxUserLen = 64

// userID returns the signed-in user: cookie "uid", else header X-User-Id.
// Invalid ids (empty, too long, characters outside [A-Za-z0-9._@-]) are
// treated as absent, so an id is always safe to echo into HTML and JSON.
// The returned bytes are valid until the request ends.
func userID(req *fasthttp.RequestHeader) []byte {
	if u := req.Cookie("uid"); validUser(u) {
		return u
	}
	if u := req.Peek("X-User-Id"); validUser(u) {
		return u
	}
	return nil
}

func validUser(u []byte) bool {
	if len(u) == 0 || len(u) > maxUserLen {
		return false
	}
	for _, c := range u {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// serveUser renders the header's user box for /frag/user: per user, so
// never stored by a cache (private, no-store, Vary: Cookie).
func (s *Shop) serveUser(ctx *fasthttp.RequestCtx) {
	if !readOnly(ctx) {
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", cartCacheControl)
	h.Set("Vary", "Cookie")
	ctx.SetContentType("text/html; charset=utf-8")
	var buf [512]byte // SetBody copies: the buffer stays on the stack
	ctx.SetBody(appendUserBox(buf[:0], userID(&ctx.Request.Header)))
}

// clearCookie removes cookie name (signing out).
func clearCookie(ctx *fasthttp.RequestCtx, name string) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetExpire(fasthttp.CookieExpireDelete)
	ctx.Response.Header.SetCookie(c)
}
