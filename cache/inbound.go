package cache

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Inbound is a client's request described as the origin would receive it,
// without building that request: the Host and normalised path the proxy
// sends, and the client's own request for the method, query, headers and
// cookies. It is what PeekInbound keys on.
type Inbound struct {
	// Req is the client's request. Its query string is sent to the origin
	// unchanged; its headers are sent unchanged except those Forwarded
	// says otherwise of.
	Req *fasthttp.Request
	// Host is the Host header the origin is sent.
	Host []byte
	// Path is the normalised path the origin is sent.
	Path []byte
	// Forwarded tells which of Req's headers reach the origin as the
	// client sent them; nil means all of them do.
	Forwarded HeaderForwarding
	// Scratch, when set, holds the key while it is built instead of a
	// buffer from the cache's pool: a caller with per-request state of its
	// own saves the pool's Get and Put. Reset it when the request ends.
	Scratch *Scratch
	// KeySentAsIs reports that the caller has already found
	// p.ReadsOnlyAsSent(Forwarded) true for this request, so PeekInbound
	// skips asking it again (a proxy can answer it once per route for
	// every request whose Connection header names no other header).
	KeySentAsIs bool
}

// HeaderForwarding is implemented by a proxy that rewrites or drops some
// request headers on their way to the origin (hop-by-hop headers,
// X-Forwarded-For, headers an untrusted client may not set).
type HeaderForwarding interface {
	// SentAsIs reports whether the request header called name
	// (case-insensitive) reaches the origin exactly as the client sent it,
	// or is absent from both.
	SentAsIs(name string) bool
}

// schemeHTTP is the scheme the key of an origin request holds: the proxy
// sends a path-only request line, whose URI fasthttp reads as http.
var schemeHTTP = []byte("http")

const (
	hdrCookie = "Cookie"
	hdrAuth   = "Authorization"
)

var keyAuthorization = []byte(hdrAuth)

// PeekInbound is Peek for a request the proxy has not built yet: it
// returns a fresh hit (State Hit, counted like Do's) for in under p, and
// false with no effect in every case Peek returns false, and also
// whenever the key could read something the origin would receive
// differently from in.Req: a header the key, the private value, the
// personal-request check or the entry's Vary names that Forwarded does not
// pass as is, or a path holding a percent-escape (the key holds the
// decoded path fasthttp computes, which for an escape-free normalised path
// is the path itself). On false the caller builds the origin request and
// runs Do or ServeOutbound, which decide exactly as before: the fast path
// only ever answers what the slow one would have answered from the same
// entry.
//
// It is the hit path that skips building the origin request (about a
// third of a hit's work). It never modifies in.Req, allocates nothing and
// is safe for concurrent use. now is the request's time in unix
// nanoseconds; 0 reads the cache's clock.
func (c *Cache) PeekInbound(in *Inbound, p *Policy, now int64) (Result, bool) {
	req := in.Req
	if p == nil || !cacheableMethod(req) || hasBody(req) || bytes.IndexByte(in.Path, '%') >= 0 ||
		!(in.KeySentAsIs || p.ReadsOnlyAsSent(in.Forwarded)) || personal(&req.Header, p) {
		return Result{}, false
	}
	if now == 0 || c.clockSet {
		now = c.nowNanos()
	}
	var s *scratch
	if in.Scratch != nil {
		s = &in.Scratch.s
	} else {
		s = getScratch()
		defer putScratch(s)
	}
	v := keyView{scheme: schemeHTTP, host: in.Host, path: in.Path, query: req.URI().QueryArgs(), header: &req.Header}
	buildKey(s, &v, p)
	e, _ := c.lookup(s, &req.Header, in.Forwarded, now)
	if e == nil || e.kind != kindObject || e.freshness(now) != fresh {
		return Result{}, false
	}
	c.m.byState[Hit].Inc()
	return entryResult(Hit, e, now), true
}

// ReadsOnlyAsSent reports whether every request header p's key and its
// personal-request check read reaches the origin as sent under f (the
// Vary names of an entry are asked of f on lookup).
func (p *Policy) ReadsOnlyAsSent(f HeaderForwarding) bool {
	if f == nil {
		return true
	}
	if !f.SentAsIs(hdrAuth) || !f.SentAsIs(hdrCookie) || !allSentAsIs(f, p.headerNames) {
		return false
	}
	return p.privHeader == "" || f.SentAsIs(p.privHeader)
}

func allSentAsIs(f HeaderForwarding, names []string) bool {
	if f == nil {
		return true
	}
	for _, n := range names {
		if !f.SentAsIs(n) {
			return false
		}
	}
	return true
}
