package cache

import (
	"bytes"
	"fmt"

	"github.com/valyala/fasthttp"
)

// PersonalMode says how an answer meant for one person leaves the
// gateway: an answer carrying Set-Cookie, or the answer to a request the
// cache passed by as personal (Authorization, a session cookie the key
// does not hold, no value for private copies). A CDN in front must not
// store either, whatever the origin's Cache-Control says.
type PersonalMode uint8

const (
	// PersonalPrivate (the default, "private") marks the answer private:
	// Cache-Control keeps the origin's browser directives (max-age,
	// no-cache, ...) without public, s-maxage or proxy-revalidate, and
	// the CDN-targeted headers (CDN-Cache-Control, Surrogate-Control,
	// Cloudflare-CDN-Cache-Control, Edge-Control) are removed. The
	// Cache-Control of an answer already private or no-store is left as
	// it is.
	PersonalPrivate PersonalMode = iota
	// PersonalNoStore ("no-store") replaces Cache-Control with
	// "private, no-store" and removes the CDN-targeted headers.
	PersonalNoStore
	// PersonalAsOrigin ("as_origin") sends the origin's headers
	// unchanged: for an operator whose CDN is configured, on its side,
	// never to store personal answers.
	PersonalAsOrigin
)

// ParsePersonalMode reads the top-level cache.personal setting.
func ParsePersonalMode(s string) (PersonalMode, error) {
	switch s {
	case "", "private":
		return PersonalPrivate, nil
	case "no-store":
		return PersonalNoStore, nil
	case "as_origin":
		return PersonalAsOrigin, nil
	}
	return 0, fmt.Errorf("unknown value %q (allowed: private, no-store, as_origin)", s)
}

var (
	hdrCacheControl = []byte("Cache-Control")
	privateNoStore  = []byte("private, no-store")
	// cdnTargeted are the response headers a CDN reads in preference to
	// Cache-Control (RFC 9213 and the vendors' own).
	cdnTargeted = [...]string{"CDN-Cache-Control", "Surrogate-Control", "Cloudflare-CDN-Cache-Control", "Edge-Control"}
)

// HasSetCookie reports whether h sets a cookie. Unlike
// h.Peek("Set-Cookie") it allocates nothing.
func HasSetCookie(h *fasthttp.ResponseHeader) bool {
	for range h.Cookies() {
		return true
	}
	return false
}

// MarkPersonal makes h, a personal answer, one no shared cache stores, as
// mode says. scratch is a reusable buffer for the new Cache-Control value;
// it is returned (grown) for reuse. It allocates nothing once scratch has
// room.
func MarkPersonal(h *fasthttp.ResponseHeader, mode PersonalMode, scratch []byte) []byte {
	if mode == PersonalAsOrigin {
		return scratch
	}
	for _, name := range cdnTargeted {
		h.Del(name) // a CDN obeys these before Cache-Control, private or not
	}
	cc := h.PeekBytes(hdrCacheControl)
	if mode == PersonalPrivate && sharedMayNotStore(cc) {
		return scratch
	}
	if mode == PersonalNoStore {
		h.SetCanonical(hdrCacheControl, privateNoStore)
		return scratch
	}
	scratch = AppendPrivate(scratch[:0], cc)
	h.SetCanonical(hdrCacheControl, scratch)
	return scratch
}

// sharedMayNotStore reports whether Cache-Control cc already keeps every
// shared cache from storing the answer (private or no-store).
func sharedMayNotStore(cc []byte) bool {
	found := false
	forEachDirective(cc, func(name, _, _ []byte) {
		found = found || bytes.EqualFold(name, []byte("private")) || bytes.EqualFold(name, []byte("no-store"))
	})
	return found
}

// AppendPrivate appends to dst the Cache-Control value that makes cc
// private: "private" followed by cc's directives except the ones meant
// for shared caches (public, s-maxage, proxy-revalidate). "max-age=60"
// gives "private, max-age=60"; "" gives "private".
func AppendPrivate(dst, cc []byte) []byte {
	dst = append(dst, "private"...)
	forEachDirective(cc, func(name, value, _ []byte) {
		switch {
		case bytes.EqualFold(name, []byte("public")), bytes.EqualFold(name, []byte("s-maxage")),
			bytes.EqualFold(name, []byte("proxy-revalidate")), bytes.EqualFold(name, []byte("private")):
			return
		}
		dst = append(append(dst, ", "...), name...)
		if len(value) > 0 {
			dst = append(dst, '=')
			if bytes.IndexByte(value, ',') >= 0 || bytes.IndexByte(value, ' ') >= 0 {
				dst = append(append(append(dst, '"'), value...), '"')
			} else {
				dst = append(dst, value...)
			}
		}
	})
	return dst
}
