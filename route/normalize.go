package route

import "errors"

// Errors returned by Normalize. They are sentinel values so that rejecting
// a request allocates nothing; the proxy answers all of them with 400.
var (
	ErrNotAbsolute  = errors.New("path does not start with \"/\"")
	ErrControlByte  = errors.New("path contains a NUL or control byte")
	ErrEncodedSlash = errors.New("path contains an encoded slash or backslash")
	ErrBadEscape    = errors.New("path contains a malformed percent-escape")
	ErrAboveRoot    = errors.New("path climbs above the root with \"..\"")
	ErrDotsSegment  = errors.New("path has a segment made only of dots")
	ErrQueryInPath  = errors.New("path contains \"?\" or \"#\"")
	ErrBackslash    = errors.New("path contains a backslash")
	ErrDoubleEscape = errors.New("path contains an escaped percent-escape (%25 followed by two hex digits)")
	ErrOverlongUTF8 = errors.New("path contains an overlong UTF-8 sequence (%C0, %C1, %E0%80-%9F or %F0%80-%8F)")
)

// Normalize appends to dst the canonical form of the request path (without
// query) and returns it; dst may be nil. It does not allocate when dst has
// room for 3*len(path)+1 bytes (the worst case, every byte escaped). On
// error dst is returned unchanged.
//
// The canonical form is the path as a typical origin reads it, so that every
// spelling an origin treats as "/buy/1" becomes "/buy/1" and meets the same
// route and filters. Case by case:
//
//	"/buy//1"             → "/buy/1"   empty segments collapse (origins and most routers do)
//	"/buy/./1"            → "/buy/1"   "." segments are removed (RFC 3986 5.2.4)
//	"/x/../buy/1"         → "/buy/1"   ".." removes the previous segment (RFC 3986 5.2.4)
//	"/../buy/1"           → ErrAboveRoot: clamping would hide a traversal attempt
//	"/buy/%31"            → "/buy/1"   %XX of unreserved bytes (A-Z a-z 0-9 - . _ ~) is decoded,
//	                                   before dot handling, so "/%2e%2e/" is ".." too
//	"/buy/%3b", "/a/%c3"  → "/buy/%3B" other escapes stay encoded with uppercase hex
//	"/buy;jsessionid=x/1" → "/buy/1"   ";params" are cut from every segment (Tomcat, Jetty,
//	                                   Spring read them so), so "/..;/" is ".." too
//	"/buy/1."             → "/buy/1"   trailing dots of a segment are stripped (IIS, Windows
//	                                   file systems); a segment of only dots (other than
//	                                   "." and "..") is rejected with ErrDotsSegment
//	"/buy/1/"             → "/buy/1/"  kept: origins may redirect "/dir" to "/dir/", so
//	                                   stripping could loop; Table.Match ignores it instead
//	"/BUY/1"              → "/BUY/1"   case is kept (origins may be case-sensitive); a Table
//	                                   built case-insensitive matches it to "/buy/{id}"
//	"/café"               → "/caf%C3%A9" raw bytes outside the URI character set are
//	                                   percent-encoded, so both spellings are one path
//	%2F, %5C, "\"         → ErrEncodedSlash / ErrBackslash: origins disagree on whether
//	                                   they separate segments, so no canonical form exists
//	%00-%1F, %7F, raw control bytes → ErrControlByte
//	"%", "%4", "%G1"      → ErrBadEscape
//	"%252e", "%252f"      → ErrDoubleEscape: an origin that decodes twice reads "." or "/",
//	                                   so "/%252e%252e/" would climb after matching; a lone
//	                                   "%25" (not followed by two hex digits) is a plain "%"
//	%C0, %C1 (raw or escaped), %E0 then %80-%9F, %F0 then %80-%8F
//	                      → ErrOverlongUTF8: overlong UTF-8, which a lenient decoder folds
//	                                   to ASCII ("%c0%ae" is ".", "%c0%af" is "/")
//	"?" or "#"            → ErrQueryInPath: the caller passes the path without query
//	"" or "buy/1"         → ErrNotAbsolute
//
// The result always starts with "/", is a fixed point (Normalize of it
// returns it unchanged) and never contains "//", "/./", "/../", ";" or
// control bytes.
func Normalize(dst, path []byte) ([]byte, error) {
	if len(path) == 0 || path[0] != '/' {
		return dst, ErrNotAbsolute
	}
	if isCanonical(path) {
		return append(dst, path...), nil
	}
	return rebuild(dst, path)
}

// rebuild is Normalize's general case: the path segment by segment.
func rebuild(dst, path []byte) ([]byte, error) {
	start := len(dst)
	out := append(dst, '/')
	trailing := true
	for i := 1; i <= len(path); {
		end := i
		for end < len(path) && path[end] != '/' {
			end++
		}
		var err error
		out, trailing, err = appendSegment(out, start, path[i:end])
		if err != nil {
			return dst[:start], err
		}
		i = end + 1
	}
	if !trailing && len(out)-start > 1 {
		out = out[:len(out)-1]
	}
	return out, nil
}

// appendSegment appends one raw segment to out, which ends with '/'. It
// returns whether the segment left the path ending in a directory (empty,
// "." or ".."), in which case out still ends with '/'.
func appendSegment(out []byte, start int, seg []byte) ([]byte, bool, error) {
	for j := range seg {
		if seg[j] == ';' {
			seg = seg[:j]
			break
		}
	}
	segStart := len(out)
	out, err := appendDecoded(out, seg)
	if err != nil {
		return out, false, err
	}
	s := out[segStart:]
	switch {
	case len(s) == 0, len(s) == 1 && s[0] == '.':
		return out[:segStart], true, nil
	case len(s) == 2 && s[0] == '.' && s[1] == '.':
		if segStart-start == 1 {
			return out, false, ErrAboveRoot
		}
		out = out[:segStart-1] // drop the '/' ending the previous segment
		for out[len(out)-1] != '/' {
			out = out[:len(out)-1]
		}
		return out, true, nil
	}
	for len(out) > segStart && out[len(out)-1] == '.' {
		out = out[:len(out)-1]
	}
	if len(out) == segStart {
		return out, false, ErrDotsSegment
	}
	return append(out, '/'), false, nil
}

// appendDecoded appends seg with unreserved escapes decoded, other escapes
// uppercased, and raw bytes outside the URI path character set escaped.
func appendDecoded(out, seg []byte) ([]byte, error) {
	var prev byte // the previous byte of the segment, decoded
	for j := 0; j < len(seg); j++ {
		c := seg[j]
		if c >= 0x80 || c == '%' {
			if err := checkByte(seg, j, prev); err != nil {
				return out, err
			}
		}
		switch {
		case c == '%':
			v, err := unescape(seg, j)
			if err != nil {
				return out, err
			}
			j += 2
			switch {
			case v < 0x20 || v == 0x7f:
				return out, ErrControlByte
			case v == '/' || v == '\\':
				return out, ErrEncodedSlash
			case class[v] == unreserved:
				out = append(out, v)
			default:
				out = append(out, '%', upperHex[v>>4], upperHex[v&15])
			}
			prev = v
			continue
		case c < 0x20 || c == 0x7f:
			return out, ErrControlByte
		case c == '\\':
			return out, ErrBackslash
		case c == '?' || c == '#':
			return out, ErrQueryInPath
		case class[c] == escape:
			out = append(out, '%', upperHex[c>>4], upperHex[c&15])
		default:
			out = append(out, c)
		}
		prev = c
	}
	return out, nil
}

// unescape decodes the escape "%XX" at seg[j].
func unescape(seg []byte, j int) (byte, error) {
	if j+2 >= len(seg) {
		return 0, ErrBadEscape
	}
	hi, ok1 := unhex(seg[j+1])
	lo, ok2 := unhex(seg[j+2])
	if !ok1 || !ok2 {
		return 0, ErrBadEscape
	}
	return hi<<4 | lo, nil
}

// checkByte refuses what a second decoder would read differently from the
// byte at seg[j] (raw, or the escape starting there) after prev: an
// escaped "%" whose next two bytes, once decoded, are hex digits ("%252e",
// "%25%32%65"), and overlong UTF-8. Origins and frameworks that decode a
// path twice, or fold overlong sequences to ASCII, would otherwise see
// ".", "/" or a backslash that matching never saw.
func checkByte(seg []byte, j int, prev byte) error {
	v, next := decodedAt(seg, j)
	if next < 0 {
		return ErrBadEscape
	}
	if v == '%' && seg[j] == '%' {
		hi, k := decodedAt(seg, next)
		lo, _ := decodedAt(seg, k)
		if _, ok := unhex(hi); ok && k > 0 {
			if _, ok := unhex(lo); ok {
				return ErrDoubleEscape
			}
		}
	}
	switch {
	case v == 0xc0 || v == 0xc1,
		prev == 0xe0 && v >= 0x80 && v <= 0x9f,
		prev == 0xf0 && v >= 0x80 && v <= 0x8f:
		return ErrOverlongUTF8
	}
	return nil
}

// decodedAt returns the byte at seg[j] once decoded (a raw byte, or the
// escape starting there) and the index after it; next is -1 at the end
// of seg or on a malformed escape.
func decodedAt(seg []byte, j int) (v byte, next int) {
	if j < 0 || j >= len(seg) {
		return 0, -1
	}
	if seg[j] != '%' {
		return seg[j], j + 1
	}
	v, err := unescape(seg, j)
	if err != nil {
		return 0, -1
	}
	return v, j + 3
}

const upperHex = "0123456789ABCDEF"

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Byte classes of a path segment (RFC 3986 section 2 and 3.3).
const (
	escape     = iota // not allowed raw in a path: percent-encode
	unreserved        // ALPHA DIGIT - . _ ~ : decode when escaped
	reserved          // sub-delims ":" "@": keep raw, keep escaped if escaped
)

var class = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-32] = unreserved, unreserved
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = unreserved
	}
	for _, c := range "-._~" {
		t[c] = unreserved
	}
	for _, c := range "!$&'()*+,;=:@" {
		t[c] = reserved
	}
	return t
}()

// isCanonical reports whether path (starting with '/') is already in
// canonical form: only raw bytes Normalize keeps, no escapes, no ';', no
// empty segment and no segment ending in '.' (which covers "." and "..").
// Most request paths are, and copying them is several times faster than
// rebuilding them segment by segment.
func isCanonical(path []byte) bool {
	prev := byte('/')
	for _, c := range path[1:] {
		switch {
		case c == '/':
			if prev == '/' || prev == '.' {
				return false
			}
		case c == ';' || class[c] == escape:
			return false
		}
		prev = c
	}
	return prev != '.'
}
