package cache

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// State is how a request was answered, sent as X-Cache.
type State uint8

const (
	// Bypass: the cache was not consulted (method, personal request,
	// uncacheable route or a remembered uncacheable key).
	Bypass State = iota
	// Hit: a fresh entry.
	Hit
	// Miss: no entry; fetched from the origin (alone or coalesced).
	Miss
	// Stale: an entry past freshness, within stale_while_revalidate (a
	// background refresh runs) or stale_if_error (the origin failed).
	Stale
	// Expired: an entry past every window that could serve it; refetched.
	Expired
	numStates
)

var stateNames = [numStates][]byte{[]byte("BYPASS"), []byte("HIT"), []byte("MISS"), []byte("STALE"), []byte("EXPIRED")}

// String returns the X-Cache value.
func (s State) String() string { return string(stateNames[s]) }

func (s State) lower() string { return string(bytes.ToLower(stateNames[s])) }

// Result is the outcome of Do. When Entry is nil, resp already holds the
// origin's answer (pass-through); otherwise the answer is the entry and
// Write renders it.
type Result struct {
	State State
	Entry *Entry
	// ESI reports that the origin marked the page as an ESI template with
	// Surrogate-Control: content="ESI/1.0" aimed at us, for pass-through
	// answers too (the header itself is consumed and never sent on). For
	// an entry it equals Entry.SurrogateESI().
	ESI bool
	// Personal reports a pass-through of a personal request (credentials
	// the key does not separate): its answer is one person's, whatever the
	// origin's Cache-Control says; see MarkPersonal.
	Personal bool
	now      int64
}

var (
	hdrXCache          = []byte("X-Cache")
	hdrAge             = []byte("Age")
	hdrETag            = []byte("ETag")
	hdrContentEncoding = []byte("Content-Encoding")

	// Request headers Write consults, in fasthttp's canonical form and
	// read with PeekCanonical: Peek would copy and re-normalise the name
	// on every hit, and a canonical name is what Peek finds both when req
	// normalises names and when it keeps them as received.
	hdrAcceptEncoding  = []byte("Accept-Encoding")
	hdrIfNoneMatch     = []byte("If-None-Match")
	hdrIfModifiedSince = []byte("If-Modified-Since")
)

// Write renders the result into resp as the answer to req: for an entry,
// status, stored headers, ETag and body in the best encoding req accepts,
// Age, X-Cache, or a 304 when req's validators match; HEAD gets no body.
// For a pass-through it only adds X-Cache. The body is not copied: resp
// must be sent before the entry could be modified, which is never.
func (r Result) Write(req *fasthttp.Request, resp *fasthttp.Response) {
	if r.Entry == nil {
		resp.Header.SetCanonical(hdrXCache, stateNames[r.State])
		return
	}
	e := r.Entry
	enc := negotiate(req.Header.PeekCanonical(hdrAcceptEncoding), e)
	switch {
	case notModified(req, e, enc):
		r.writeHeader(resp, true)
		resp.Header.SetCanonical(hdrETag, e.etags[enc])
		resp.SetStatusCode(fasthttp.StatusNotModified)
	case r.State == Hit && e.hitHeaderFor(enc, e.ageSeconds(r.now), &resp.Header):
		// No resp.Reset: the hit header replaced the whole header, and
		// SetBodyRaw replaces the body, which is all a hit sets.
		resp.SetBodyRaw(e.bodies[enc])
	default:
		resp.Reset()
		e.bodyHeader(&resp.Header, r.State, e.ageSeconds(r.now), enc)
		resp.SetBodyRaw(e.bodies[enc])
	}
	if req.Header.IsHead() {
		resp.SkipBody = true
	}
}

// WriteHeader renders status, stored headers, Age and X-Cache, but no
// body, ETag or Content-Encoding: for a caller (ESI) that writes its own
// body. It returns the entry, or nil for a pass-through (then resp holds
// the origin's answer and only X-Cache was added).
func (r Result) WriteHeader(resp *fasthttp.Response) *Entry {
	if r.Entry == nil {
		resp.Header.SetCanonical(hdrXCache, stateNames[r.State])
		return nil
	}
	r.writeHeader(resp, false)
	return r.Entry
}

func (r Result) writeHeader(resp *fasthttp.Response, notModified bool) {
	resp.Reset()
	r.Entry.baseHeader(&resp.Header, r.State, r.Entry.ageSeconds(r.now))
	if notModified {
		resp.Header.SetContentTypeBytes(nil)
	}
}

// baseHeader writes into h the header of every answer from e: status,
// Content-Type and stored headers (the wire header), then Age and X-Cache.
func (e *Entry) baseHeader(h *fasthttp.ResponseHeader, s State, age int) {
	e.wire.CopyTo(h)
	var buf [20]byte
	h.SetCanonical(hdrAge, fasthttp.AppendUint(buf[:0], age))
	h.SetCanonical(hdrXCache, stateNames[s])
}

// bodyHeader is baseHeader plus what comes with e's body in encoding
// enc: its ETag and Content-Encoding.
func (e *Entry) bodyHeader(h *fasthttp.ResponseHeader, s State, age int, enc Encoding) {
	e.baseHeader(h, s, age)
	h.SetCanonical(hdrETag, e.etags[enc])
	if enc != Identity {
		h.SetCanonical(hdrContentEncoding, encodingNames[enc])
	}
}

// hitHeader is the header a fresh hit of one entry sends in one
// encoding while its Age is age (Entry.bodyHeader), built once and copied
// by every hit in that second (Entry.hitHeaderFor).
type hitHeader struct {
	age int
	h   fasthttp.ResponseHeader
}

// hitHeaderFor copies into dst e's fresh-hit header for enc at Age age,
// building it when the Age has moved on since the last one (once a second
// per entry and encoding under load; concurrent builders each store an
// identical header and the last one stays). It returns false, copying
// nothing, for a request older than the stored header (one that began
// just before a second turned): building for it would make requests of
// two seconds take turns replacing the header; Write's default case
// answers it instead.
func (e *Entry) hitHeaderFor(enc Encoding, age int, dst *fasthttp.ResponseHeader) bool {
	h := e.hits[enc].Load()
	switch {
	case h != nil && h.age == age:
	case h != nil && h.age > age:
		return false
	default:
		h = &hitHeader{age: age}
		e.bodyHeader(&h.h, Hit, age, enc)
		e.hits[enc].Store(h)
	}
	h.h.CopyTo(dst)
	return true
}

// negotiate picks the stored encoding req accepts best: br, then gzip,
// else identity. A coding with q=0 is refused. No allocation.
func negotiate(ae []byte, e *Entry) Encoding {
	if len(ae) == 0 {
		return Identity
	}
	var gz, br bool
	for len(ae) > 0 {
		var item []byte
		if i := bytes.IndexByte(ae, ','); i >= 0 {
			item, ae = ae[:i], ae[i+1:]
		} else {
			item, ae = ae, nil
		}
		name, q := item, []byte(nil)
		if i := bytes.IndexByte(item, ';'); i >= 0 {
			name, q = item[:i], item[i+1:]
		}
		name = bytes.TrimSpace(name)
		if refusedQ(q) {
			continue
		}
		switch {
		case bytes.EqualFold(name, encodingNames[Brotli]):
			br = true
		case bytes.EqualFold(name, encodingNames[Gzip]), bytes.Equal(name, []byte("*")):
			gz = true
		}
	}
	switch {
	case br && e.bodies[Brotli] != nil:
		return Brotli
	case gz && e.bodies[Gzip] != nil:
		return Gzip
	}
	return Identity
}

// refusedQ reports whether a "q=..." parameter is zero.
func refusedQ(q []byte) bool {
	q = bytes.TrimSpace(q)
	if len(q) < 3 || (q[0] != 'q' && q[0] != 'Q') || q[1] != '=' {
		return false
	}
	for _, c := range q[2:] {
		if c != '0' && c != '.' {
			return false
		}
	}
	return true
}

// notModified applies If-None-Match (weak comparison, RFC 9110 13.1.2)
// or, without it, If-Modified-Since, to a 200 entry.
func notModified(req *fasthttp.Request, e *Entry, enc Encoding) bool {
	if e.status != fasthttp.StatusOK {
		return false
	}
	if inm := req.Header.PeekCanonical(hdrIfNoneMatch); len(inm) > 0 {
		return etagListMatches(inm, e.etags[enc])
	}
	if e.lastModUnix == 0 {
		return false
	}
	ims := req.Header.PeekCanonical(hdrIfModifiedSince)
	if len(ims) == 0 {
		return false
	}
	t, err := fasthttp.ParseHTTPDate(ims)
	return err == nil && e.lastModUnix <= t.Unix()
}

func etagListMatches(list, tag []byte) bool {
	tag = bytes.TrimPrefix(tag, []byte("W/"))
	for len(list) > 0 {
		var item []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, nil
		}
		item = bytes.TrimPrefix(bytes.TrimSpace(item), []byte("W/"))
		if bytes.Equal(item, []byte("*")) || bytes.Equal(item, tag) {
			return true
		}
	}
	return false
}

func entryResult(s State, e *Entry, now int64) Result {
	return Result{State: s, Entry: e, ESI: e.esi, now: now}
}
