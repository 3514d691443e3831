package esi

import "bytes"

// maxAttrs bounds the attributes of one ESI tag; ESI elements take at most three.
const maxAttrs = 8

// tag is one scanned ESI start tag, <esi:name a="v" ...> or <esi:name .../>.
type tag struct {
	name      []byte
	attrs     [maxAttrs]attr
	n         int
	selfClose bool
	off, end  int // end: offset just past '>'
}

type attr struct{ name, val []byte }

func (t *tag) get(name string) ([]byte, bool) {
	for i := 0; i < t.n; i++ {
		if string(t.attrs[i].name) == name {
			return t.attrs[i].val, true
		}
	}
	return nil, false
}

// scanTag reads the tag starting at src[off] ("<esi:") and ending before limit.
func scanTag(src []byte, off, limit int) (tag, error) {
	t := tag{off: off}
	i := off + len("<esi:")
	start := i
	for i < limit && isNameByte(src[i]) {
		i++
	}
	t.name = src[start:i]
	what := "<esi:" + string(t.name[:min(len(t.name), 32)]) // a hostile name must not make a huge error
	if len(t.name) == 0 {
		return t, &ParseError{Offset: off, What: "<esi:", Err: ErrSyntax, Detail: "missing element name"}
	}
	for {
		for i < limit && isSpace(src[i]) {
			i++
		}
		if i >= limit {
			return t, &ParseError{Offset: off, What: what, Err: ErrUnclosed, Detail: "tag has no '>'"}
		}
		switch {
		case src[i] == '>':
			t.end = i + 1
			return t, nil
		case src[i] == '/' && i+1 < limit && src[i+1] == '>':
			t.selfClose, t.end = true, i+2
			return t, nil
		}
		var err error
		if i, err = t.scanAttr(src, i, limit, what); err != nil {
			return t, err
		}
	}
}

// scanAttr reads name="value" (or single quotes) at src[i].
func (t *tag) scanAttr(src []byte, i, limit int, what string) (int, error) {
	start := i
	for i < limit && isNameByte(src[i]) {
		i++
	}
	name := src[start:i]
	if len(name) == 0 || i+1 >= limit || src[i] != '=' || (src[i+1] != '"' && src[i+1] != '\'') {
		return i, &ParseError{Offset: t.off, What: what, Err: ErrSyntax, Detail: "attributes must be name=\"value\""}
	}
	q := src[i+1]
	vs := i + 2
	ve := bytes.IndexByte(src[vs:limit], q)
	if ve < 0 {
		return i, &ParseError{Offset: t.off, What: what, Err: ErrUnclosed, Detail: "attribute value has no closing quote"}
	}
	if t.n == maxAttrs {
		return i, &ParseError{Offset: t.off, What: what, Err: ErrSyntax, Detail: "too many attributes"}
	}
	t.attrs[t.n] = attr{name: name, val: decodeEntities(src[vs : vs+ve])}
	t.n++
	return vs + ve + 1, nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == ':'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

var entities = [...]struct{ name, val string }{
	{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", `"`}, {"&apos;", "'"}, {"&#39;", "'"}, {"&#34;", `"`},
}

// decodeEntities decodes the XML predefined entities of an attribute value
// (src="/a?x=1&amp;y=2" is how XHTML writes an ampersand). It returns v
// itself when there is nothing to decode.
func decodeEntities(v []byte) []byte {
	if bytes.IndexByte(v, '&') < 0 {
		return v
	}
	out := make([]byte, 0, len(v))
	for len(v) > 0 {
		if v[0] == '&' {
			if e, ok := matchEntity(v); ok {
				out = append(out, entities[e].val...)
				v = v[len(entities[e].name):]
				continue
			}
		}
		out = append(out, v[0])
		v = v[1:]
	}
	return out
}

func matchEntity(v []byte) (int, bool) {
	for i := range entities {
		if bytes.HasPrefix(v, []byte(entities[i].name)) {
			return i, true
		}
	}
	return 0, false
}

// parseParts splits s into literal runs and $(VAR) references.
// In lenient mode (text inside esi:vars) a "$(" that is not a variable,
// e.g. jQuery's $(".x") in a script, stays literal text.
func parseParts(s []byte, off int, what string, lenient bool) ([]part, error) {
	var parts []part
	for len(s) > 0 {
		i := bytes.Index(s, []byte("$("))
		if i < 0 {
			break
		}
		if i > 0 {
			parts = append(parts, part{lit: s[:i]})
		}
		v, n, err := parseVar(s[i:], off, what)
		if err != nil && lenient {
			parts = append(parts, part{lit: s[i : i+2]})
			s = s[i+2:]
			continue
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{v: v})
		s = s[i+n:]
	}
	if len(s) > 0 {
		parts = append(parts, part{lit: s})
	}
	return parts, nil
}

func hasVars(parts []part) bool {
	for i := range parts {
		if parts[i].v != nil {
			return true
		}
	}
	return false
}

var varNames = map[string]varName{
	"HTTP_HOST": vHost, "HTTP_COOKIE": vCookie, "QUERY_STRING": vQuery, "HTTP_HEADER": vHeader,
	"HTTP_REFERER": vHeader, "HTTP_USER_AGENT": vHeader, "HTTP_ACCEPT_LANGUAGE": vAcceptLanguage,
}

// fixedHeader is the header read by variables that name one.
var fixedHeader = map[string]string{"HTTP_REFERER": "Referer", "HTTP_USER_AGENT": "User-Agent"}

// maxVarLen bounds one variable reference, default included.
const maxVarLen = 256

// parseVar parses "$(NAME)", "$(NAME{key})" with an optional "|default" or
// "|'default'" before ')'. It returns the bytes consumed.
func parseVar(s []byte, off int, what string) (*varRef, int, error) {
	bad := func(detail string) (*varRef, int, error) {
		return nil, 0, &ParseError{Offset: off, What: what, Err: ErrSyntax, Detail: detail}
	}
	// Bounded search: text with many "$(" and no ')' must stay linear.
	end := bytes.IndexByte(s[:min(len(s), maxVarLen)], ')')
	if end < 0 {
		return bad("variable has no ')' within 256 bytes")
	}
	body := s[2:end]
	var def []byte
	hasDef := false
	if i := bytes.IndexByte(body, '|'); i >= 0 {
		body, def, hasDef = body[:i], body[i+1:], true
		if len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
			def = def[1 : len(def)-1]
		}
	}
	name, key := body, []byte(nil)
	if i := bytes.IndexByte(body, '{'); i >= 0 {
		if body[len(body)-1] != '}' {
			return bad("variable key has no '}'")
		}
		name, key = body[:i], body[i+1:len(body)-1]
	}
	kind, ok := varNames[string(name)]
	if !ok {
		return bad("unknown variable " + string(name))
	}
	v := &varRef{name: kind, key: string(key), def: def, hasDef: hasDef}
	if string(name) == "HTTP_USER_AGENT" && len(key) > 0 {
		if !userAgentKey(v.key) {
			return bad("HTTP_USER_AGENT key must be browser, os or version, got " + quoteShort(key))
		}
		v.name = vUserAgent
		return v, end + 1, nil
	}
	if h, ok := fixedHeader[string(name)]; ok {
		v.key = h
	}
	if (kind == vHeader || kind == vAcceptLanguage) && v.key == "" {
		return bad(string(name) + " needs a {name}")
	}
	return v, end + 1, nil
}
