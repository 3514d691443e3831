package proxy

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"flashgate/filters"
	"flashgate/route"
)

// answer is a response the gateway writes itself (edge rejection, origin
// failure). Its bodies are built once at package init, so writing one
// allocates nothing. Client-visible text is fixed here and never contains
// an error's detail (which goes to metrics and logs).
type answer struct {
	status     int
	code       string // machine-readable, in JSON bodies and logs
	html, json []byte
	retryAfter string // "" = no Retry-After
	closes     bool   // the connection closes after it: the rest of the stream cannot be trusted
}

func newAnswer(status int, code, title, msg, retryAfter string) *answer {
	a := &answer{status: status, code: code, retryAfter: retryAfter}
	a.html = filters.GatewayPage(status, title, msg)
	a.json = []byte(`{"error":"` + code + `","status":` + strconv.Itoa(status) +
		`,"message":"` + msg + `"}` + "\n")
	return a
}

// The gateway's own answers. Messages are plain ASCII without quotes or
// markup so that they are valid in both HTML and JSON as written.
var (
	ansBadPath       = newAnswer(400, "bad_path", "Bad request", "The request path is malformed: it contains an encoded slash, a control byte, a bad escape or climbs above the root.", "")
	ansDoubleEscape  = newAnswer(400, "bad_path", "Bad request", "The request path is refused: it holds an escaped percent-escape (such as %252e or %252f), which a server that decodes twice reads as another path.", "")
	ansOverlongUTF8  = newAnswer(400, "bad_path", "Bad request", "The request path is refused: it holds overlong UTF-8 (such as %C0%AE or %C0%AF), which a lenient server reads as a dot or a slash.", "")
	ansBareLF        = closing(newAnswer(400, "bad_line_ending", "Bad request", "The request header lines end in LF alone; HTTP requires CR LF.", ""))
	ansBadHeaderName = newAnswer(400, "bad_header_name", "Bad request", "A request header name contains a space or another character that header names may not hold.", "")
	ansBadRequest    = newAnswer(400, "bad_request", "Bad request", "The request could not be read.", "")
	ansNoHost        = newAnswer(400, "missing_host", "Bad request", "The request has no Host header.", "")
	ansWrongHost     = newAnswer(421, "misdirected_request", "Misdirected request", "This gateway does not serve that host name.", "")
	ansNotFound      = newAnswer(404, "not_found", "Not found", "There is nothing at this address.", "")
	ansCaseVariant   = newAnswer(404, "case_mismatch", "Not found", "There is nothing at this address: it differs only in letter case from an address of this shop, and this gateway matches letter case exactly. Use the address as the shop spells it.", "")
	ansMethod        = newAnswer(405, "method_not_allowed", "Method not allowed", "This address does not accept this method.", "")
	ansTimeoutReq    = newAnswer(408, "request_timeout", "Request timeout", "The request took too long to arrive.", "")
	ansTooLarge      = newAnswer(413, "body_too_large", "Request too large", "The request body is larger than this address accepts.", "")
	ansHeaderLarge   = newAnswer(431, "headers_too_large", "Request headers too large", "The request headers are larger than the gateway accepts.", "")
	ansBadGateway    = newAnswer(502, "bad_gateway", "Service unavailable", "The shop could not be reached. Please try again in a moment.", "")
	ansOriginBusy    = newAnswer(503, "origin_busy", "Busy", "The shop is very busy right now. Please try again in a moment.", "1")
	ansOriginTimeout = newAnswer(504, "gateway_timeout", "Timeout", "The shop took too long to answer. Please try again in a moment.", "")
)

func closing(a *answer) *answer {
	a.closes = true
	return a
}

// pathAnswer is the 400 for a path route.Normalize refused, naming the
// reason where a generic "malformed" would leave a client guessing.
func pathAnswer(err error) *answer {
	switch err {
	case route.ErrDoubleEscape:
		return ansDoubleEscape
	case route.ErrOverlongUTF8:
		return ansOverlongUTF8
	}
	return ansBadPath
}

// write puts a on ctx's response, JSON or HTML by the request's Accept
// header (filters.WantsJSON). Gateway answers are never cacheable: a CDN must not keep a 502.
func (a *answer) write(ctx *fasthttp.RequestCtx) {
	r := &ctx.Response
	r.Reset()
	r.SetStatusCode(a.status)
	r.Header.Set("Cache-Control", "no-store")
	if a.closes {
		r.SetConnectionClose()
	}
	if a.retryAfter != "" {
		r.Header.Set("Retry-After", a.retryAfter)
	}
	if filters.PrefersJSON(ctx.Request.Header.PeekCanonical(keyAccept)) {
		r.Header.SetContentType("application/json")
		r.SetBodyRaw(a.json)
	} else {
		r.Header.SetContentType("text/html; charset=utf-8")
		r.SetBodyRaw(a.html)
	}
}

// keyAccept is canonical for PeekCanonical (see keyXFF).
var keyAccept = []byte("Accept")
