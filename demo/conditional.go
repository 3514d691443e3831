package demo

import (
	"bytes"
	"time"

	"github.com/valyala/fasthttp"
)

// servePage writes a static page with its validators and cache headers, or
// a 304 when the request's validators match (RFC 9110 §13.1).
func (s *Shop) servePage(ctx *fasthttp.RequestCtx, p *page, contentType, cacheControl, surrogateKey string) {
	h := &ctx.Response.Header
	h.Set("Cache-Control", cacheControl)
	if surrogateKey != "" {
		h.Set("Surrogate-Key", surrogateKey)
	}
	h.SetBytesV("ETag", p.etag)
	h.SetBytesV("Last-Modified", s.pages.lastMod)
	if notModified(&ctx.Request.Header, p.etag, s.pages.modTime) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(contentType)
	ctx.SetBody(p.body)
}

// notModified evaluates If-None-Match, or If-Modified-Since when there is
// no If-None-Match (RFC 9110 §13.2.2: the entity tag wins).
func notModified(req *fasthttp.RequestHeader, etag []byte, modTime time.Time) bool {
	if inm := req.Peek("If-None-Match"); len(inm) > 0 {
		return etagListMatches(inm, etag)
	}
	ims := req.Peek("If-Modified-Since")
	if len(ims) == 0 {
		return false
	}
	t, err := fasthttp.ParseHTTPDate(ims)
	return err == nil && !modTime.After(t)
}

// etagListMatches applies the weak comparison of RFC 9110 §8.8.3.2 to a
// comma-separated If-None-Match list: "*" matches, W/ prefixes are ignored.
func etagListMatches(list, etag []byte) bool {
	etag = bytes.TrimPrefix(etag, []byte("W/"))
	for len(list) > 0 {
		var tag []byte
		tag, list, _ = bytes.Cut(list, []byte{','})
		tag = bytes.TrimSpace(tag)
		if string(tag) == "*" || bytes.Equal(bytes.TrimPrefix(tag, []byte("W/")), etag) {
			return true
		}
	}
	return false
}
