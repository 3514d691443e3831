package esi

import "bytes"

// resolve turns src into req.Host and req.Path. Relative and path-absolute
// src are resolved against the base URL (the page, or the fragment whose
// template holds the include); an absolute http(s) or
// scheme-relative URL is accepted only when hostAllowed(host) is true. Any
// other scheme, control or space byte, backslash, userinfo, or ".." above
// the root is ErrBadSrc. Nothing here allocates except the string given to
// hostAllowed for absolute URLs.
func resolve(req *FragmentRequest, baseHost, basePath, src []byte, hostAllowed func(string) bool) error {
	if i := bytes.IndexByte(src, '#'); i >= 0 {
		src = src[:i]
	}
	if len(src) == 0 || !cleanSrc(src) {
		return ErrBadSrc
	}
	req.Absolute = false
	buf := req.buf[:0]
	var host, path []byte
	switch rest, abs := stripScheme(src); {
	case abs:
		h, p := splitAuthority(rest)
		if !validHost(h) {
			return ErrBadSrc
		}
		for _, c := range h {
			buf = append(buf, lowerASCII(c))
		}
		if hostAllowed == nil || !hostAllowed(string(buf)) {
			return ErrHostNotAllowed
		}
		path, req.Absolute = p, true
	case src[0] == '/':
		host, path = baseHost, src
	case hasScheme(src):
		return ErrBadSrc
	default:
		host, path = baseHost, src
	}
	buf = append(buf, host...)
	hostLen := len(buf)
	var ok bool
	if path[0] == '/' {
		buf, ok = appendPath(buf, nil, path)
	} else {
		buf, ok = appendPath(buf, baseDir(basePath), path)
	}
	if !ok {
		return ErrBadSrc
	}
	req.buf, req.Host, req.Path = buf, buf[:hostLen], buf[hostLen:]
	return nil
}

// cleanSrc rejects control bytes, spaces and backslashes: browsers and
// origins disagree on what they mean, so no fragment URL may hold them.
func cleanSrc(s []byte) bool {
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// stripScheme returns what follows "http://", "https://" or "//".
func stripScheme(s []byte) ([]byte, bool) {
	for _, p := range [...]string{"http://", "https://", "//"} {
		if len(s) >= len(p) && bytes.EqualFold(s[:len(p)], []byte(p)) {
			return s[len(p):], true
		}
	}
	return s, false
}

// hasScheme reports a "scheme:" before the first '/', '?' (javascript:, file:, data:, gopher:).
func hasScheme(s []byte) bool {
	for _, c := range s {
		switch c {
		case ':':
			return true
		case '/', '?':
			return false
		}
	}
	return false
}

// splitAuthority splits "host[:port]/path?q" into host and "/path?q" ("/" when empty).
func splitAuthority(s []byte) (host, path []byte) {
	i := bytes.IndexAny(s, "/?")
	if i < 0 {
		return s, []byte("/")
	}
	if s[i] == '?' {
		return s[:i], append([]byte("/"), s[i:]...)
	}
	return s[:i], s[i:]
}

// validHost accepts a DNS name or IP literal with an optional port: no
// userinfo ("good@evil"), no percent-encoding, nothing empty.
func validHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// baseDir is the page path up to and including its last '/', query dropped.
func baseDir(page []byte) []byte {
	if i := bytes.IndexByte(page, '?'); i >= 0 {
		page = page[:i]
	}
	if i := bytes.LastIndexByte(page, '/'); i >= 0 {
		return page[:i+1]
	}
	return []byte("/")
}

// appendPath appends base+rel to dst with "." and ".." segments of the path
// (not the query) resolved per RFC 3986 5.2.4. ok is false when ".." climbs
// above the root.
func appendPath(dst, base, rel []byte) ([]byte, bool) {
	query := []byte(nil)
	if i := bytes.IndexByte(rel, '?'); i >= 0 {
		rel, query = rel[:i], rel[i:]
	}
	start := len(dst)
	dst = append(dst, '/')
	ok := true
	dst, ok = appendSegments(dst, start, base, ok)
	dst, ok = appendSegments(dst, start, rel, ok)
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return append(dst, query...), ok
}

// appendSegments appends the '/'-separated segments of p to dst (which ends
// in '/' after start), resolving "." and "..".
func appendSegments(dst []byte, start int, p []byte, ok bool) ([]byte, bool) {
	for len(p) > 0 {
		seg := p
		last := true
		if i := bytes.IndexByte(p, '/'); i >= 0 {
			seg, p, last = p[:i], p[i+1:], false
		} else {
			p = nil
		}
		switch string(seg) {
		case "", ".": // "a//b" and "a/./b" are "a/b"; a trailing "/." keeps its slash
			continue
		case "..":
			// drop the last segment: dst is "/a/b/" → "/a/"
			if len(dst)-start <= 1 {
				ok = false
				continue
			}
			j := bytes.LastIndexByte(dst[start:len(dst)-1], '/')
			dst = dst[:start+j+1]
			continue
		}
		dst = append(dst, seg...)
		if !last {
			dst = append(dst, '/')
		}
	}
	return dst, ok
}
