package cache

import (
	"bytes"
	"hash/crc64"
	"strconv"

	"github.com/valyala/fasthttp"
)

// ownedHeaders are response headers the writer sets itself or that must
// never be replayed from the cache. Keys are in fasthttp's canonical form.
var ownedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true,
	"Etag": true, "Age": true, "Date": true, "X-Cache": true, "Vary": true,
	"Set-Cookie": true, "Surrogate-Control": true, "Transfer-Encoding": true,
	// hop-by-hop (RFC 9110 7.6.1)
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Upgrade": true, "Proxy-Authenticate": true,
}

// minCompressSize: below this, gzip's framing eats most of the gain.
const minCompressSize = 256

// uncacheable reasons, counted in metrics and shown in tests.
type refusal uint8

const (
	storable refusal = iota
	refuseStatus
	refuseSetCookie
	refuseNoStore
	refusePrivate
	refuseVaryStar
	refuseTTL
	refuseTooBig
	refuseEncoding
)

// remembered reports whether refusal r of a response with status makes its
// key hit-for-miss. Only a page that is uncacheable by its own headers
// (Set-Cookie, private, no-store/no-cache, Vary: *, a zero lifetime, too
// big, an encoding we cannot store) is: the next request would get the same
// answer. A status outside the cacheable set (4xx but 404/410, 5xx, 1xx,
// 302...) and a 404/410 without negative_ttl never are: such an answer is
// about one request (an oversized header the origin refused with 431, a bad
// parameter), and a marker would let one attacker disable caching of the
// URL for everyone (CPDoS).
func (r refusal) remembered(status int) bool {
	switch r {
	case storable, refuseStatus:
		return false
	case refuseTTL:
		return status != fasthttp.StatusNotFound && status != fasthttp.StatusGone
	}
	return true
}

// checkResponse decides whether resp may be stored under policy p.
func (c *Cache) checkResponse(p *Policy, resp *fasthttp.Response, d directives, lt lifetimes) refusal {
	h := &resp.Header
	switch {
	case !cacheableStatus(h.StatusCode()):
		return refuseStatus
	case len(h.Peek("Set-Cookie")) > 0:
		return refuseSetCookie
	case d.noStore || d.noCache:
		return refuseNoStore
	case d.private && p.privCookie == "" && p.privHeader == "":
		return refusePrivate
	case bytes.Contains(h.Peek("Vary"), []byte("*")):
		return refuseVaryStar
	case lt.ttl <= 0:
		return refuseTTL
	case int64(len(resp.Body())) > c.maxObject:
		return refuseTooBig
	}
	return storable
}

// buildEntry turns a storable response into an Entry. key is copied.
func (c *Cache) buildEntry(p *Policy, key []byte, url []byte, resp *fasthttp.Response, d directives,
	lt lifetimes, now int64, rtags []uint64) (*Entry, refusal) {
	body, ok := identityBody(resp)
	if !ok || int64(len(body)) > c.maxObject {
		return nil, refuseEncoding
	}
	h := &resp.Header
	e := &Entry{kind: kindObject, status: h.StatusCode(), lt: lt, esi: d.esi}
	e.key = append([]byte(nil), key...)
	e.url = append([]byte(nil), url...)
	e.contentType = append([]byte(nil), h.ContentType()...)
	e.storedAt = now - int64(parseSeconds(h.Peek("Age")))*1e9
	e.freshUntil.Store(e.storedAt + lt.ttl)
	e.bodies[Identity] = append([]byte(nil), body...)
	if compressible(e.contentType) && len(body) >= minCompressSize {
		if gz := fasthttp.AppendGzipBytesLevel(nil, body, fasthttp.CompressDefaultCompression); len(gz) < len(body) {
			e.bodies[Gzip] = gz
		}
		if br := fasthttp.AppendBrotliBytesLevel(nil, body, fasthttp.CompressBrotliDefaultCompression); len(br) < len(body) {
			e.bodies[Brotli] = br
		}
	}
	e.originETag = append([]byte(nil), h.Peek("ETag")...)
	e.lastMod = append([]byte(nil), h.Peek("Last-Modified")...)
	if t, err := fasthttp.ParseHTTPDate(e.lastMod); err == nil {
		e.lastModUnix = t.Unix()
	}
	e.setETags()
	e.headers = storedHeaders(p, h, e.bodies[Gzip] != nil || e.bodies[Brotli] != nil)
	e.wire = wireHeader(e)
	e.tags = c.entryTags(h, rtags, e.url)
	e.size = e.cost()
	return e, storable
}

// identityBody returns the response body decoded from any content coding
// the origin applied. ok is false for codings we cannot decode.
func identityBody(resp *fasthttp.Response) ([]byte, bool) {
	ce := resp.Header.ContentEncoding()
	if len(ce) == 0 || bytes.EqualFold(ce, []byte("identity")) {
		return resp.Body(), true
	}
	b, err := resp.BodyUncompressed()
	return b, err == nil
}

// compressible reports whether a content type is text that compresses well.
func compressible(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	switch {
	case bytes.HasPrefix(ct, []byte("text/")):
		return true
	case bytes.HasSuffix(ct, []byte("+json")), bytes.HasSuffix(ct, []byte("+xml")):
		return true
	}
	switch string(ct) {
	case "application/json", "application/javascript", "application/xml",
		"image/svg+xml", "application/x-javascript", "application/ld+json":
		return true
	}
	return false
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// setETags derives one entity tag per stored encoding from the origin's
// ETag, or from a CRC-64 of the body when the origin sent none, so every
// instance gives the same bytes the same tag (CDNs compare them).
func (e *Entry) setETags() {
	base := e.originETag
	if len(base) == 0 {
		base = strconv.AppendUint([]byte(`"fg-`), crc64.Checksum(e.bodies[Identity], crcTable), 36)
		base = append(base, '"')
	}
	e.etags[Identity] = base
	for enc := Gzip; enc < numEncodings; enc++ {
		if e.bodies[enc] == nil {
			continue
		}
		t := bytes.TrimSuffix(base, []byte(`"`))
		tag := append(append([]byte(nil), t...), '-')
		tag = append(append(tag, encodingNames[enc]...), '"')
		e.etags[enc] = tag
	}
}

// storedHeaders copies the headers to replay, replacing Cache-Control with
// the route's CDN value and setting Vary to the origin's (Accept-Encoding
// included when compressed copies exist).
func storedHeaders(p *Policy, h *fasthttp.ResponseHeader, compressed bool) []header {
	var out []header
	var vary []byte
	for k, v := range h.All() {
		switch {
		case string(k) == "Vary":
			vary = appendVary(vary, v)
		case string(k) == "Cache-Control" && p.cdnCC != nil:
		case ownedHeaders[string(k)]:
		default:
			out = append(out, header{append([]byte(nil), k...), append([]byte(nil), v...)})
		}
	}
	if p.cdnCC != nil {
		out = append(out, header{[]byte("Cache-Control"), p.cdnCC})
	}
	if compressed && !bytes.Contains(bytes.ToLower(vary), []byte("accept-encoding")) {
		vary = appendVary(vary, []byte("Accept-Encoding"))
	}
	if len(vary) > 0 {
		out = append(out, header{[]byte("Vary"), vary})
	}
	return out
}

func appendVary(dst, v []byte) []byte {
	if len(dst) > 0 {
		dst = append(dst, ", "...)
	}
	return append(dst, v...)
}

// wireHeader builds the header a hit copies for e: status, Content-Type
// and the stored headers, in order. The writer sets no default
// Content-Type: an entry without one is sent without one.
func wireHeader(e *Entry) *fasthttp.ResponseHeader {
	w := &fasthttp.ResponseHeader{}
	w.SetNoDefaultContentType(true)
	w.SetStatusCode(e.status)
	w.SetContentTypeBytes(e.contentType)
	for _, h := range e.headers {
		w.AddBytesKV(h.key, h.value)
	}
	return w
}

// entryOverhead approximates the Go struct and slice headers of an Entry;
// tagRefCost the tag index's memory per tag of an entry.
const (
	entryOverhead = 512
	wireOverhead  = 512 // a fasthttp.ResponseHeader and its slice headers
	// hitHeaderExtra is what a hit header holds beyond the wire header:
	// Age, X-Cache, ETag, Content-Encoding and their slice headers.
	hitHeaderExtra = 256
	tagRefCost     = 64
)

// cost is the entry's real size in bytes, the unit of cache.max_bytes.
func (e *Entry) cost() int64 {
	n := int64(entryOverhead + len(e.key) + len(e.url) + len(e.contentType) +
		len(e.lastMod) + len(e.originETag) + tagRefCost*len(e.tags))
	for i := range e.bodies {
		n += int64(len(e.bodies[i]) + len(e.etags[i]))
	}
	var stored int64 // the stored headers, kept as headers and in each header built from them
	for _, h := range e.headers {
		stored += int64(len(h.key) + len(h.value) + 48)
	}
	n += stored
	if e.wire != nil {
		// The wire header, and a hit header per stored encoding (hitHeader).
		hdrs := int64(wireOverhead+len(e.contentType)+hitHeaderExtra) + stored
		for i := range e.bodies {
			if e.bodies[i] != nil {
				n += hdrs + int64(len(e.etags[i]))
			}
		}
		n += hdrs
	}
	for _, s := range e.varyNames {
		n += int64(len(s) + 16)
	}
	return n
}
