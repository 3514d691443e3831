package rules

import (
	"net/textproto"
	"strings"
)

// OriginIdentity is one request header an origin reads a user's identity
// from (origins.<name>.identity). Such a header must come from the gateway
// only: whatever a client (or a trusted proxy) sends under that name is
// removed, and with From the gateway sets it from that source of the same
// request, the one the admission filters' key reads:
//
//	origins:
//	  shop:
//	    identity:
//	      - {header: X-User-Id, from: "cookie:uid"}   # set from the uid cookie
//	      - {header: X-Remote-User}                   # only removed
type OriginIdentity struct {
	Header string // canonical MIME form, e.g. X-User-Id
	// From is "" (the header is only removed) or "cookie:NAME" or
	// "header:NAME", spelt as a filter's key.
	From string
}

type identitySpec struct {
	Header string `yaml:"header"`
	From   string `yaml:"from,omitempty"`
}

// buildIdentity validates an origin's identity list (node n).
func (l *loader) buildIdentity(n Node, specs []identitySpec) []OriginIdentity {
	var out []OriginIdentity
	seen := map[string]bool{}
	for i, s := range specs {
		item := n.Index(i)
		h := textproto.CanonicalMIMEHeaderKey(s.Header)
		switch {
		case !isToken(s.Header):
			l.errs.add(item.Errorf("header", "bad header name %q: want a token such as X-User-Id", s.Header))
			continue
		case seen[h]:
			l.errs.add(item.Errorf("header", "header %s is listed twice", h))
			continue
		}
		seen[h] = true
		src, name, _ := strings.Cut(s.From, ":")
		if s.From != "" && ((src != "cookie" && src != "header") || name == "" || !isToken(name)) {
			l.errs.add(item.Errorf("from", "unknown source %q (allowed: cookie:NAME, header:NAME, or none to only remove the header)", s.From))
			continue
		}
		if src == "header" {
			s.From = "header:" + textproto.CanonicalMIMEHeaderKey(name)
		}
		out = append(out, OriginIdentity{Header: h, From: s.From})
	}
	return out
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the
// syntax of header and cookie names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
