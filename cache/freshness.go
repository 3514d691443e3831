package cache

import (
	"bytes"
	"time"

	"github.com/valyala/fasthttp"
)

// directives is what a response's caching headers say, already narrowed to
// the directives aimed at us.
type directives struct {
	noStore, noCache, private bool
	// maxAge etc. are in seconds; -1 = absent.
	surrogateMaxAge, sMaxAge, maxAge int64
	swr, sie                         int64
	expires                          int64 // unix nanos, 0 = absent
	esi                              bool  // Surrogate-Control content="ESI/1.0"
}

// parseDirectives reads Cache-Control, Surrogate-Control (only directives
// without a target or targeted at name) and Expires.
func parseDirectives(h *fasthttp.ResponseHeader, name []byte) directives {
	d := directives{surrogateMaxAge: -1, sMaxAge: -1, maxAge: -1, swr: -1, sie: -1}
	forEachDirective(h.Peek("Cache-Control"), func(k, v, _ []byte) {
		d.apply(k, v, false)
	})
	forEachDirective(h.Peek("Surrogate-Control"), func(k, v, target []byte) {
		if len(target) == 0 || bytes.EqualFold(target, name) {
			d.apply(k, v, true)
		}
	})
	if e := h.Peek("Expires"); len(e) > 0 {
		if t, err := fasthttp.ParseHTTPDate(e); err == nil {
			d.expires = t.UnixNano()
		} else {
			d.expires = 1 // an invalid Expires means "already expired" (RFC 9111 5.3)
		}
	}
	return d
}

func (d *directives) apply(k, v []byte, surrogate bool) {
	switch {
	case bytes.EqualFold(k, []byte("no-store")):
		d.noStore = true
	case bytes.EqualFold(k, []byte("no-cache")):
		d.noCache = true
	case bytes.EqualFold(k, []byte("private")):
		d.private = true
	case bytes.EqualFold(k, []byte("max-age")) && surrogate:
		d.surrogateMaxAge = parseSeconds(v)
	case bytes.EqualFold(k, []byte("max-age")):
		d.maxAge = parseSeconds(v)
	case bytes.EqualFold(k, []byte("s-maxage")):
		d.sMaxAge = parseSeconds(v)
	case bytes.EqualFold(k, []byte("stale-while-revalidate")):
		d.swr = parseSeconds(v)
	case bytes.EqualFold(k, []byte("stale-if-error")):
		d.sie = parseSeconds(v)
	case bytes.EqualFold(k, []byte("content")) && surrogate:
		d.esi = bytes.Contains(v, []byte("ESI/1.0"))
	}
}

// lifetimes is how long an entry is fresh and may be served stale, in nanos.
type lifetimes struct {
	ttl, swr, sie int64
}

// lifetimesFor applies policy p to a response with directives d and status.
// ttl <= 0 means the response must not be stored.
func lifetimesFor(p *Policy, d directives, status int, date, now int64) lifetimes {
	lt := lifetimes{ttl: p.ttl, swr: p.swr, sie: p.sie}
	if status == fasthttp.StatusNotFound || status == fasthttp.StatusGone {
		lt.ttl = p.negTTL
		return lt
	}
	if !p.fromOrigin {
		return lt
	}
	switch {
	case d.surrogateMaxAge >= 0:
		lt.ttl = d.surrogateMaxAge * int64(time.Second)
	case d.sMaxAge >= 0:
		lt.ttl = d.sMaxAge * int64(time.Second)
	case d.maxAge >= 0:
		lt.ttl = d.maxAge * int64(time.Second)
	case d.expires != 0:
		lt.ttl = d.expires - date
	}
	if d.swr >= 0 {
		lt.swr = d.swr * int64(time.Second)
	}
	if d.sie >= 0 {
		lt.sie = d.sie * int64(time.Second)
	}
	return lt
}

// forEachDirective calls f for each comma-separated "name[=value][;target]".
// Quotes around values are removed; no allocation.
func forEachDirective(b []byte, f func(name, value, target []byte)) {
	for len(b) > 0 {
		var item []byte
		if i := indexUnquoted(b, ','); i >= 0 {
			item, b = b[:i], b[i+1:]
		} else {
			item, b = b, nil
		}
		var target []byte
		if i := indexUnquoted(item, ';'); i >= 0 {
			item, target = item[:i], bytes.TrimSpace(item[i+1:])
		}
		item = bytes.TrimSpace(item)
		name, value := item, []byte(nil)
		if i := bytes.IndexByte(item, '='); i >= 0 {
			name, value = bytes.TrimSpace(item[:i]), bytes.Trim(bytes.TrimSpace(item[i+1:]), `"`)
		}
		if len(name) > 0 {
			f(name, value, target)
		}
	}
}

func indexUnquoted(b []byte, c byte) int {
	quoted := false
	for i, x := range b {
		switch {
		case x == '"':
			quoted = !quoted
		case x == c && !quoted:
			return i
		}
	}
	return -1
}

// parseSeconds parses delta-seconds; invalid or empty values are 0 (RFC 9111
// says to treat an invalid max-age as stale). Capped at ten years.
func parseSeconds(v []byte) int64 {
	var n int64
	if len(v) == 0 {
		return 0
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
		if n > 10*365*24*3600 {
			return 10 * 365 * 24 * 3600
		}
	}
	return n
}

// cacheableStatus lists the statuses that may be stored, whatever the
// origin's headers say. 4xx other than 404/410 and every 5xx are never
// stored: an odd request that makes the origin fail must not poison the
// page for everyone (CPDoS).
func cacheableStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 410:
		return true
	}
	return false
}
