package filters

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Verdict is a filter's answer: Continue, or a Rejection plus an optional
// dynamic value (retry-after seconds, queue position) rendered into the
// prebuilt response at write time. The zero value is Continue.
type Verdict struct {
	rej      *Rejection
	val      int64
	wait     int32 // estimated seconds, for the wait slots of a waiting page
	progress uint8 // percent of the wait behind the client
}

// Continue lets the request go on to the next filter.
var Continue = Verdict{}

// Rejected reports whether v ends the request.
func (v Verdict) Rejected() bool { return v.rej != nil }

// Rejection returns the rejection v carries, nil for Continue.
func (v Verdict) Rejection() *Rejection { return v.rej }

// Value returns the dynamic value rendered with the rejection.
func (v Verdict) Value() int64 { return v.val }

var (
	hdrFilter       = []byte("X-Flashgate-Filter")
	hdrRetryAfter   = []byte("Retry-After")
	hdrCacheControl = []byte("Cache-Control")
	valNoStore      = []byte("no-store")
	acceptJSON      = []byte("json")
	acceptHTML      = []byte("html") // text/html, application/xhtml+xml
	// hdrAccept is canonical, as fasthttp stores parsed names: PeekCanonical
	// skips the copy and re-normalisation Peek does on every call.
	hdrAccept = []byte(fasthttp.HeaderAccept)
)

// Write renders v's rejection into ctx.Response: status, headers
// (X-Flashgate-Filter, Cache-Control: no-store, Retry-After where waiting
// helps; the reason is in the body and in Rejection.Reason for logs) and the HTML or JSON body chosen by the
// request's Accept header (WantsJSON). Headers already on the response (cookies a filter
// set) are kept. It allocates nothing once ctx's buffers have grown. Writing
// Continue is a bug and panics.
func (v Verdict) Write(ctx *fasthttp.RequestCtx) {
	rej := v.rej
	if rej == nil {
		panic("BUG: filters: Write of a Continue verdict")
	}
	page := &rej.html
	if WantsJSON(ctx) {
		page = &rej.json
	}
	h := &ctx.Response.Header
	h.SetStatusCode(rej.status)
	h.SetContentTypeBytes(page.contentType)
	h.SetCanonical(hdrFilter, rej.filter)
	h.SetCanonical(hdrCacheControl, valNoStore)
	var num [20]byte
	switch {
	case rej.retryAfterValue:
		h.SetCanonical(hdrRetryAfter, strconv.AppendInt(num[:0], max(v.val, 1), 10))
	case rej.retryAfter > 0:
		h.SetCanonical(hdrRetryAfter, strconv.AppendInt(num[:0], rej.retryAfter, 10))
	}
	if len(page.parts) == 1 {
		// Static page: hand fasthttp the prebuilt bytes, no copy.
		ctx.Response.SetBodyRaw(page.parts[0])
		return
	}
	// SetBody reuses the response's body buffer; ResetBody would hand it
	// back to the pool and fetch another one per part. Slot text is built
	// on the stack (a refused form larger than it grows it on the heap).
	var slot [1024]byte
	ctx.Response.SetBody(page.parts[0])
	for i, p := range page.parts[1:] {
		ctx.Response.AppendBody(page.appendSlot(slot[:0], page.slots[i], &v, ctx))
		ctx.Response.AppendBody(p)
	}
}

// WantsJSON reports whether the gateway's own answer to ctx (a
// rejection, a gateway page, an origin error) is JSON rather than an HTML
// page: when the request's Accept mentions "json" (application/json,
// application/problem+json, ...), and when it does not ask for HTML at all
// (no Accept, curl's and fetch()'s "*/*", API and image clients). Browsers
// ask for text/html on every page load and form post, so people get
// pages; programs get the short JSON form they can parse, which is also a
// fifth of the page's bytes when most of a spike is being turned away.
// The match is lenient on purpose: a mobile app that is handed an HTML
// page breaks. Every answer the gateway writes itself uses this one rule.
func WantsJSON(ctx *fasthttp.RequestCtx) bool {
	return PrefersJSON(ctx.Request.Header.PeekCanonical(hdrAccept))
}

// PrefersJSON is WantsJSON on the Accept header's value.
func PrefersJSON(accept []byte) bool {
	return bytes.Contains(accept, acceptJSON) || !bytes.Contains(accept, acceptHTML)
}
