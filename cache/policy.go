package cache

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PolicySpec is a route's `cache:` node as plain values. DecodePolicy fills
// it from YAML; tests and callers without a rule file fill it directly.
type PolicySpec struct {
	// TTL is how long a 2xx/3xx response stays fresh when the origin says
	// nothing (or always, when TTLFromOrigin is false).
	TTL time.Duration
	// TTLFromOrigin takes freshness from the origin: Surrogate-Control aimed
	// at us first, then s-maxage, max-age, Expires; TTL is the fallback.
	TTLFromOrigin bool
	// StaleWhileRevalidate and StaleIfError are the RFC 5861 windows after
	// freshness ends. The origin's own values win when TTLFromOrigin is set.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// NegativeTTL caches 404 and 410 for this long; 0 never caches them.
	NegativeTTL time.Duration
	// Key chooses what, beyond method, host and path, tells entries apart.
	Key KeySpec
	// SessionCookies are cookies that mark a personal request: a request
	// carrying one bypasses the cache unless the key includes that cookie.
	SessionCookies []string
	// Private opts in to caching personal responses, one copy per value of
	// a cookie or header (e.g. the session cookie). Requests without it
	// bypass the cache; responses are sent downstream as private.
	Private PrivateSpec
	// CDNCacheControl replaces the origin's Cache-Control on responses we
	// send, e.g. "public, s-maxage=60, max-age=10". "" keeps the origin's.
	CDNCacheControl string
	// Tags are added to every entry of the route; {name} is replaced by the
	// route parameter of that name, e.g. "item:{id}".
	Tags []string
	// CoalesceTimeout bounds how long a request waits for another request's
	// origin fetch of the same key. Default 5s.
	CoalesceTimeout time.Duration
}

// KeySpec selects the request parts that, beyond method, scheme, host and
// path, make up the cache key.
type KeySpec struct {
	// Query is "all" (every parameter, sorted), or "none"/"" (none, unless
	// QueryParams names the ones to keep, in sorted order). The origin gets
	// exactly the keyed parameters, sorted, on a miss or refresh; others
	// (utm_*, cache busters, anything it might reflect) never reach it.
	Query       string
	QueryParams []string
	// Headers and Cookies name request headers and cookies whose values
	// are part of the key.
	Headers []string
	Cookies []string
}

// PrivateSpec names the cookie or header whose value keys personal copies.
// Exactly one of Cookie and Header may be set; both empty means off.
type PrivateSpec struct {
	Cookie string
	Header string
}

// Policy is a compiled, immutable route cache policy. A nil *Policy means
// the route does not cache. Safe for concurrent use.
type Policy struct {
	ttl, swr, sie, negTTL int64 // nanoseconds
	fromOrigin            bool
	queryAll              bool
	queryNames            []string // sorted, deduplicated
	headerNames           []string
	cookieNames           []string
	sessionCookies        []string
	privCookie            string
	privHeader            string
	cdnCC                 []byte
	tags                  []tagTemplate
	coalesce              time.Duration
}

const defaultCoalesceTimeout = 5 * time.Second

// CompilePolicy validates spec and compiles it. Errors name the key.
func CompilePolicy(spec PolicySpec) (*Policy, error) {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ttl", spec.TTL}, {"stale_while_revalidate", spec.StaleWhileRevalidate},
		{"stale_if_error", spec.StaleIfError}, {"negative_ttl", spec.NegativeTTL},
		{"coalesce_timeout", spec.CoalesceTimeout}} {
		if d.v < 0 {
			errs = append(errs, specErrorf(d.name, "must not be negative, got %s", d.v))
		}
	}
	if spec.TTL == 0 && !spec.TTLFromOrigin {
		errs = append(errs, specErrorf("ttl", "required (or set ttl_from_origin: true)"))
	}
	p := &Policy{
		ttl: int64(spec.TTL), swr: int64(spec.StaleWhileRevalidate), sie: int64(spec.StaleIfError),
		negTTL: int64(spec.NegativeTTL), fromOrigin: spec.TTLFromOrigin,
		coalesce: spec.CoalesceTimeout,
	}
	if p.coalesce == 0 {
		p.coalesce = defaultCoalesceTimeout
	}
	switch spec.Key.Query {
	case "all":
		p.queryAll = true
		if len(spec.Key.QueryParams) > 0 {
			errs = append(errs, specErrorf("key.query", "either \"all\", \"none\" or a list of names"))
		}
	case "", "none":
	default:
		errs = append(errs, specErrorf("key.query", "unknown value %q (allowed: all, none, or a list of names)", spec.Key.Query))
	}
	p.queryNames = sortedUnique(spec.Key.QueryParams)
	p.headerNames = sortedUnique(lowerAll(spec.Key.Headers)) // X-Lang and x-lang are one header
	p.cookieNames = sortedUnique(spec.Key.Cookies)
	p.sessionCookies = sortedUnique(spec.SessionCookies)
	if spec.Private.Cookie != "" && spec.Private.Header != "" {
		errs = append(errs, specErrorf("private", "set either cookie or header, not both"))
	}
	p.privCookie, p.privHeader = spec.Private.Cookie, spec.Private.Header
	switch {
	case p.privCookie != "" || p.privHeader != "":
		p.cdnCC = []byte("private, no-store")
	case spec.CDNCacheControl != "":
		p.cdnCC = []byte(spec.CDNCacheControl)
	}
	for i, t := range spec.Tags {
		tt, err := compileTag(t)
		if err != nil {
			errs = append(errs, specErrorf(fmt.Sprintf("tags[%d]", i), "%v", err))
		}
		p.tags = append(p.tags, tt)
	}
	if len(p.tags) > maxTagsPerEntry {
		errs = append(errs, specErrorf("tags", "at most %d, got %d", maxTagsPerEntry, len(p.tags)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// SpecError is one invalid setting of a PolicySpec or Options; Key is its
// YAML key path below the cache node, e.g. "key.query".
type SpecError struct {
	Key, Msg string
}

func (e *SpecError) Error() string { return e.Key + ": " + e.Msg }

func specErrorf(key, format string, args ...any) error {
	return &SpecError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// CoalesceTimeout is the longest a request waits for a shared fetch.
func (p *Policy) CoalesceTimeout() time.Duration { return p.coalesce }

// keyedByCookie reports whether the key tells requests apart by cookie name.
func (p *Policy) keyedByCookie(name string) bool {
	return name == p.privCookie || slices.Contains(p.cookieNames, name)
}

// keyedByHeader reports whether the key includes header name (case-insensitive).
func (p *Policy) keyedByHeader(name string) bool {
	if strings.EqualFold(name, p.privHeader) {
		return true
	}
	for _, h := range p.headerNames {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// tagTemplate is a tag with {param} holes, split into literal and param parts.
type tagTemplate struct {
	parts []tagPart
}

type tagPart struct {
	lit   string
	param string // non-empty: substitute this route parameter
}

// Params gives route parameters by name; *route.Params satisfies it. The
// returned bytes need only stay valid for the duration of the call.
type Params interface {
	Get(name string) []byte
}

func compileTag(s string) (tagTemplate, error) {
	var t tagTemplate
	if s == "" {
		return t, errors.New("empty tag")
	}
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			t.parts = append(t.parts, tagPart{lit: s})
			break
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return t, fmt.Errorf("unclosed \"{\" in %q", s)
		}
		if open > 0 {
			t.parts = append(t.parts, tagPart{lit: s[:open]})
		}
		name := s[open+1 : open+end]
		if name == "" {
			return t, fmt.Errorf("empty parameter name in %q", s)
		}
		t.parts = append(t.parts, tagPart{param: name})
		s = s[open+end+1:]
	}
	return t, nil
}

// appendTag renders t with params into dst. A missing parameter renders empty.
func (t tagTemplate) appendTag(dst []byte, params Params) []byte {
	for _, p := range t.parts {
		if p.param == "" {
			dst = append(dst, p.lit...)
		} else if params != nil {
			dst = append(dst, params.Get(p.param)...)
		}
	}
	return dst
}
