package cache

import "github.com/valyala/fasthttp"

// requestHeader returns the first value of the request header called name,
// matched with ASCII case folding, or nil. Unlike RequestHeader.Peek it
// does not depend on whether h normalises names: the proxy's outbound
// request calls DisableNormalizing (it forwards names as the client sent
// them), where Peek("x-user") never finds "X-User". Configured names (key
// headers, private.header, an origin's Vary) come in any case, so every
// lookup of a request header by such a name goes through here. It scans
// the headers once and allocates nothing; the value is valid until h is
// next modified.
func requestHeader(h *fasthttp.RequestHeader, name string) []byte {
	for k, v := range h.All() {
		if equalFoldASCII(k, name) {
			return v
		}
	}
	return nil
}

// namesCanonical reports whether h normalises header names (fasthttp's
// default, and what a fasthttp.Server does to the requests it reads unless
// told not to): then every name in h is in canonical form and a canonical
// name is found with PeekCanonical. fasthttp has no getter; its setters
// return the previous setting, which is restored at once.
func namesCanonical(h *fasthttp.RequestHeader) bool {
	if h.DisableNormalizing() {
		return false // it was off, and stays off
	}
	h.EnableNormalizing()
	return true
}

// delRequestHeader removes every header called name, in any spelling of
// its case, from h, whether or not h normalises names.
func delRequestHeader(h *fasthttp.RequestHeader, name string) {
	var buf [64]byte
	// Each round removes at least one header, so h.Len()+1 rounds end it
	// even if a Del were ever to remove nothing.
	for range h.Len() + 1 {
		var key []byte
		for k := range h.All() {
			if equalFoldASCII(k, name) {
				key = append(buf[:0], k...)
				break
			}
		}
		if key == nil {
			return
		}
		h.DelBytes(key)
	}
}

// equalFoldASCII reports whether b and s are equal under ASCII case
// folding (header names are ASCII tokens; no Unicode folding wanted).
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
