package cache

import (
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// Encoding is a content coding a stored body is kept in.
type Encoding uint8

const (
	Identity Encoding = iota
	Gzip
	Brotli
	numEncodings
)

var encodingNames = [numEncodings][]byte{nil, []byte("gzip"), []byte("br")}

// String returns the Content-Encoding token ("" for identity).
func (e Encoding) String() string { return string(encodingNames[e]) }

type entryKind uint8

const (
	kindObject     entryKind = iota // a stored response
	kindVary                        // marker: look again with these request headers
	kindHitForMiss                  // marker: this key was uncacheable, skip the flight
)

// header is one stored response header, both slices pointing into one
// backing array owned by the entry.
type header struct{ key, value []byte }

// Entry is one stored response. Everything but the freshness deadline and
// the refresh flag is immutable once stored, so an *Entry may be read by any
// number of goroutines and its byte slices written to responses without
// copying. Callers must not modify any slice an Entry returns.
type Entry struct {
	kind      entryKind
	hash      uint64
	key       []byte // the full key, compared on lookup so a hash collision is a miss
	url       []byte // host + path, for prefix bans
	tags      []uint64
	size      int64
	varyNames []string // kindVary: request headers that select the variant

	status      int
	contentType []byte
	headers     []header // to send, in origin order, without the ones we own
	bodies      [numEncodings][]byte
	etags       [numEncodings][]byte
	lastMod     []byte // origin's Last-Modified, sent back on revalidation
	lastModUnix int64  // seconds, 0 = none
	originETag  []byte // origin's ETag, sent back on revalidation
	esi         bool

	storedAt   int64 // unix nanos when the origin produced it (minus origin Age)
	insertedAt int64 // unix nanos when we stored it, for bans
	lt         lifetimes
	// freshUntil is storedAt+ttl, lowered to "now" by a soft purge.
	freshUntil atomic.Int64
	// refreshing is set by the one request that starts a background
	// revalidation, so a stale entry is refreshed once.
	refreshing atomic.Bool

	attachment any

	// wire holds status, Content-Type and headers as a hit writes them:
	// copying a prebuilt header (ResponseHeader.CopyTo) skips the
	// normalising, newline scrubbing and duplicate search that adding the
	// headers one by one costs on every hit. Read-only once stored.
	wire *fasthttp.ResponseHeader
	// hits holds, per encoding, the whole header of a fresh hit (wire,
	// Age, X-Cache: HIT, ETag, Content-Encoding) for one Age value, built
	// by the first hit in each second: the hits after it copy it whole
	// instead of setting four headers each. See hitHeaderFor.
	hits [numEncodings]atomic.Pointer[hitHeader]
}

// Status is the stored response status code.
func (e *Entry) Status() int { return e.status }

// ContentType is the stored Content-Type ("" if the origin sent none).
func (e *Entry) ContentType() []byte { return e.contentType }

// Body is the identity-encoded body. Do not modify it.
func (e *Entry) Body() []byte { return e.bodies[Identity] }

// EncodedBody returns the body in encoding enc, or nil if it is not stored
// in that encoding (bodies that are small or not text are identity only).
func (e *Entry) EncodedBody(enc Encoding) []byte { return e.bodies[enc] }

// VisitHeaders calls f for each stored header to send (Content-Type,
// Content-Length, Content-Encoding, ETag, Age, Date and X-Cache excluded:
// the writer sets them). Do not keep or modify the slices.
func (e *Entry) VisitHeaders(f func(key, value []byte)) {
	for _, h := range e.headers {
		f(h.key, h.value)
	}
}

// ETag returns the entity tag sent with the body in encoding enc.
func (e *Entry) ETag(enc Encoding) []byte { return e.etags[enc] }

// SurrogateESI reports whether the origin marked the page as an ESI template
// with Surrogate-Control: content="ESI/1.0" (the header itself is consumed).
func (e *Entry) SurrogateESI() bool { return e.esi }

// StoredAt is when the response was produced, in unix nanoseconds.
func (e *Entry) StoredAt() int64 { return e.storedAt }

// Attachment returns the value Options.OnStore attached, or nil.
func (e *Entry) Attachment() any { return e.attachment }

// SetAttachment attaches v to the entry. Only call it from Options.OnStore:
// the entry is published after OnStore returns, and never changes after.
func (e *Entry) SetAttachment(v any) { e.attachment = v }

// freshness classifies the entry at now.
func (e *Entry) freshness(now int64) freshness {
	fu := e.freshUntil.Load()
	switch {
	case now < fu:
		return fresh
	case now < fu+e.lt.swr:
		return staleRevalidate
	case now < fu+e.lt.sie:
		return staleIfErrorOnly
	}
	return dead
}

type freshness uint8

const (
	fresh freshness = iota
	staleRevalidate
	staleIfErrorOnly
	dead
)

// usableOnError reports whether the entry may stand in for a failed fetch.
func (e *Entry) usableOnError(now int64) bool {
	return now < e.freshUntil.Load()+max(e.lt.sie, e.lt.swr)
}

// physicalTTL is how long the store must keep the entry: after this, no
// window can serve it.
func (lt lifetimes) physical() int64 { return lt.ttl + max(lt.swr, lt.sie) }

// ageSeconds is the Age header value at now.
func (e *Entry) ageSeconds(now int64) int {
	if now <= e.storedAt {
		return 0
	}
	return int((now - e.storedAt) / 1e9)
}
