package esi

import "bytes"

// Vars gives ESI variables their values from the page request. The proxy
// implements it over the client's request; each method returns nil when the
// value is absent. Returned bytes are only read during the call's assembly.
// Implementations must be safe for concurrent use when the Fetcher runs
// fetches on other goroutines and reads FragmentRequest.Vars there.
type Vars interface {
	Host() []byte              // $(HTTP_HOST)
	Cookie(name string) []byte // $(HTTP_COOKIE{name})
	Query(name string) []byte  // $(QUERY_STRING{name}), decoded
	RawQuery() []byte          // $(QUERY_STRING)
	Header(name string) []byte // $(HTTP_HEADER{name}), $(HTTP_REFERER), $(HTTP_USER_AGENT), ...
}

type varName uint8

const (
	vHost varName = iota
	vCookie
	vQuery
	vHeader
	vAcceptLanguage // $(HTTP_ACCEPT_LANGUAGE{lang}): "true" or "false"
	vUserAgent      // $(HTTP_USER_AGENT{browser|os|version}): see useragent.go
)

// varRef is a parsed $(NAME{key}|default).
type varRef struct {
	name   varName
	key    string
	def    []byte
	hasDef bool
}

// personal reports whether the value depends on who is asking (cookies,
// headers) rather than on the URL, which the cache key already holds.
func (v *varRef) personal() bool { return v.name != vHost && v.name != vQuery }

// value returns the variable's value, or its default when absent or empty.
func (v *varRef) value(vars Vars) []byte {
	if b := v.lookup(vars); len(b) > 0 || !v.hasDef {
		return b
	}
	return v.def
}

// lookup returns the request's value of the variable, nil when absent.
func (v *varRef) lookup(vars Vars) []byte {
	var b []byte
	if vars != nil {
		switch v.name {
		case vHost:
			b = vars.Host()
		case vCookie:
			if v.key == "" {
				b = vars.Header("Cookie")
			} else {
				b = vars.Cookie(v.key)
			}
		case vQuery:
			if v.key == "" {
				b = vars.RawQuery()
			} else {
				b = vars.Query(v.key)
			}
		case vHeader:
			b = vars.Header(v.key)
		case vUserAgent:
			b = userAgentPart(vars.Header("User-Agent"), v.key)
		case vAcceptLanguage:
			if acceptsLanguage(vars.Header("Accept-Language"), v.key) {
				return strTrue
			}
			return strFalse
		}
	}
	return b
}

var (
	strTrue  = []byte("true")
	strFalse = []byte("false")
)

// acceptsLanguage reports whether the Accept-Language list names lang
// (ignoring quality values and case), as $(HTTP_ACCEPT_LANGUAGE{lang}) does.
func acceptsLanguage(h []byte, lang string) bool {
	for len(h) > 0 {
		item := h
		if i := bytes.IndexByte(h, ','); i >= 0 {
			item, h = h[:i], h[i+1:]
		} else {
			h = nil
		}
		if i := bytes.IndexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(lang)) {
			return true
		}
	}
	return false
}

// part is a literal run or a variable reference inside text or an attribute.
type part struct {
	lit []byte
	v   *varRef
}

type escaping uint8

const (
	escNone escaping = iota // test expressions
	escURL                  // src/alt: values query-escaped so they cannot add path segments or parameters
	escHTML                 // text inside esi:vars: values cannot inject markup
)

// expand appends parts to dst, variables escaped as esc says. personal is
// true when a cookie or header value was read.
func expand(dst []byte, parts []part, vars Vars, esc escaping) (out []byte, personal bool) {
	for i := range parts {
		p := &parts[i]
		if p.v == nil {
			dst = append(dst, p.lit...)
			continue
		}
		personal = personal || p.v.personal()
		val := p.v.lookup(vars)
		if len(val) == 0 {
			dst = append(dst, p.v.def...) // the author's text: not escaped
			continue
		}
		switch esc {
		case escURL:
			dst = appendURLEscaped(dst, val)
		case escHTML:
			dst = appendHTMLEscaped(dst, val)
		default:
			dst = append(dst, val...)
		}
	}
	return dst, personal
}

const hexDigits = "0123456789ABCDEF"

// appendURLEscaped percent-encodes everything but RFC 3986 unreserved bytes.
func appendURLEscaped(dst, s []byte) []byte {
	for _, c := range s {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

func appendHTMLEscaped(dst, s []byte) []byte {
	for _, c := range s {
		switch c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
