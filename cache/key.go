package cache

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/valyala/fasthttp"
)

// scratch holds per-lookup buffers; pooled so that a hit allocates nothing.
// It must not be used after it is put back.
type scratch struct {
	key     []byte // full key of the current lookup
	primary int    // length of the key before Vary values were appended
	url     []byte // host + path
	kvs     []kv   // query arguments, for sorting "query: all"
	tmp     []byte
}

type kv struct{ k, v []byte }

var scratchPool = sync.Pool{New: func() any { return &scratch{key: make([]byte, 0, 256), url: make([]byte, 0, 128)} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if s.reset() {
		scratchPool.Put(s)
	}
}

// reset empties s for the next lookup and reports whether it is worth
// keeping: buffers grown by a hostile request are not.
func (s *scratch) reset() bool {
	if cap(s.key) > 64<<10 || cap(s.kvs) > 1024 {
		return false
	}
	s.key, s.url, s.tmp = s.key[:0], s.url[:0], s.tmp[:0]
	clear(s.kvs)
	s.kvs = s.kvs[:0]
	return true
}

// Scratch is a key buffer a caller keeps with its per-request state and
// lends to PeekInbound (Inbound.Scratch). The zero value is ready to use.
// Not safe for concurrent use.
type Scratch struct{ s scratch }

// Reset empties the buffer when the request ends, dropping it if a
// hostile request grew it.
func (s *Scratch) Reset() {
	if !s.s.reset() {
		s.s = scratch{}
	}
}

// appendPart appends one length-prefixed component, so that no choice of
// values can make two different requests produce the same key.
func appendPart(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// keyView is what a key is made of: the request as the origin receives it
// (scheme, Host, decoded path, query arguments, headers and cookies).
type keyView struct {
	scheme, host, path []byte
	query              *fasthttp.Args
	header             *fasthttp.RequestHeader
}

// viewOf is the key view of a request that is sent to the origin as it is.
func viewOf(req *fasthttp.Request) keyView {
	u := req.URI()
	return keyView{scheme: u.Scheme(), host: req.Header.Host(), path: u.Path(), query: u.QueryArgs(), header: &req.Header}
}

// buildKey fills s.key and s.url for the request v under policy p: method (HEAD is
// keyed as GET), scheme (an http→https redirect must not be served on
// https), host (normalised by appendHost), path, the chosen query parameters in sorted
// order, the chosen headers and cookies, and the private value.
func buildKey(s *scratch, v *keyView, p *Policy) {
	s.url = appendHost(s.url[:0], v.host, v.scheme)
	s.url = append(s.url, v.path...)
	k := append(s.key[:0], "GET\x00"...)
	k = appendPart(k, v.scheme)
	k = appendPart(k, s.url)
	k = appendQuery(k, s, v.query, p)
	for _, name := range p.headerNames {
		k = appendPart(k, requestHeader(v.header, name))
	}
	for _, name := range p.cookieNames {
		k = appendPart(k, v.header.Cookie(name))
	}
	switch {
	case p.privCookie != "":
		k = appendPart(k, v.header.Cookie(p.privCookie))
	case p.privHeader != "":
		k = appendPart(k, requestHeader(v.header, p.privHeader))
	}
	s.key = k
}

func appendQuery(k []byte, s *scratch, args *fasthttp.Args, p *Policy) []byte {
	if !p.queryAll {
		for _, name := range p.queryNames {
			if v := args.Peek(name); v != nil {
				k = appendPart(appendPartString(k, name), v)
			}
		}
		return k
	}
	s.kvs = sortedArgs(s.kvs[:0], args)
	for _, a := range s.kvs {
		k = appendPart(appendPart(k, a.k), a.v)
	}
	return k
}

// sortedArgs appends every query argument to dst, sorted by name, then value.
func sortedArgs(dst []kv, args *fasthttp.Args) []kv {
	for a, b := range args.All() {
		dst = append(dst, kv{a, b})
	}
	slices.SortFunc(dst, func(x, y kv) int {
		if c := bytes.Compare(x.k, y.k); c != 0 {
			return c
		}
		return bytes.Compare(x.v, y.v)
	})
	return dst
}

// setOriginQuery replaces out's query with exactly the parameters the key
// of req holds under p, in the key's (sorted) order, so that the origin's
// answer can depend on nothing the key does not: a parameter outside the
// key (a cache buster, utm_*, or ?reflect=<script> or an <esi:include> an
// origin echoes into the page) never reaches the origin on a miss or a
// refresh, and cannot end up in the entry every user gets. Values are
// re-encoded from their decoded form, which is what the key holds. Runs
// on the fetch path only (it allocates the sort slice past 16 arguments).
func setOriginQuery(out, req *fasthttp.Request, p *Policy) {
	args := req.URI().QueryArgs()
	q := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(q)
	if p.queryAll {
		var buf [16]kv
		for _, a := range sortedArgs(buf[:0], args) {
			q.AddBytesKV(a.k, a.v)
		}
	} else {
		for _, name := range p.queryNames {
			if v := args.Peek(name); v != nil {
				q.AddBytesV(name, v)
			}
		}
	}
	out.URI().SetQueryStringBytes(q.QueryString())
}

// appendVaryValues extends a primary key with the request's values of the
// headers an origin's Vary named.
func appendVaryValues(k []byte, h *fasthttp.RequestHeader, names []string) []byte {
	k = append(k, "\x00vary"...)
	for _, n := range names {
		k = appendPart(k, requestHeader(h, n))
	}
	return k
}

// appendHost appends host as keys and purge URLs hold it: ASCII
// lowercased, without trailing dots and without the scheme's default port
// (80 for http, 443 for https; either when scheme is nil), so that Host:
// Shop.Example, shop.example. and shop.example:80 — one site to every
// origin — share one entry instead of letting a client bust the cache.
func appendHost(dst, host, scheme []byte) []byte {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		if isDefaultPort(host[i+1:], scheme) {
			host = host[:i]
		}
	}
	for len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	return appendLower(dst, host)
}

// isDefaultPort reports whether port (digits, leading zeros allowed, or
// empty as in "host:") is scheme's default.
func isDefaultPort(port, scheme []byte) bool {
	for len(port) > 1 && port[0] == '0' {
		port = port[1:]
	}
	switch string(port) {
	case "":
		return true
	case "80":
		return scheme == nil || string(scheme) == "http"
	case "443":
		return scheme == nil || string(scheme) == "https"
	}
	return false
}

// appendLower appends b ASCII-lowercased. It copies first and folds the
// copy in place: one append instead of one per byte, on every key built.
func appendLower(dst, b []byte) []byte {
	n := len(dst)
	dst = append(dst, b...)
	for i, c := range dst[n:] {
		if 'A' <= c && c <= 'Z' {
			dst[n+i] = c + 'a' - 'A'
		}
	}
	return dst
}

func appendPartString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func (c *Cache) hash(b []byte) uint64 { return maphash.Bytes(c.seed, b) }
