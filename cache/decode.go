package cache

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"flashgate/rules"
)

// policyNode is a route's `cache:` mapping as written in a rule file:
//
//	cache:
//	  ttl: 30s                      # or ttl_from_origin: true (ttl is then the fallback)
//	  stale_while_revalidate: 10s
//	  stale_if_error: 5m
//	  negative_ttl: 5s              # 404/410
//	  key: {query: [sku, page], headers: [X-Lang], cookies: [currency]}   # query: all | none | [names]
//	  session_cookies: [sid]        # requests carrying one bypass unless the key has it
//	  private: {cookie: sid}        # opt-in: one copy per session, sent downstream as private
//	  cdn: {cache_control: "public, s-maxage=60, max-age=10"}
//	  tags: ["item:{id}"]
//	  coalesce_timeout: 3s
type policyNode struct {
	TTL                  rules.Duration `yaml:"ttl"`
	TTLFromOrigin        bool           `yaml:"ttl_from_origin"`
	StaleWhileRevalidate rules.Duration `yaml:"stale_while_revalidate"`
	StaleIfError         rules.Duration `yaml:"stale_if_error"`
	NegativeTTL          rules.Duration `yaml:"negative_ttl"`
	Key                  keyNode        `yaml:"key"`
	SessionCookies       []string       `yaml:"session_cookies"`
	Private              privateNode    `yaml:"private"`
	CDN                  cdnNode        `yaml:"cdn"`
	Tags                 []string       `yaml:"tags"`
	CoalesceTimeout      rules.Duration `yaml:"coalesce_timeout"`
}

type keyNode struct {
	Query   rules.Node `yaml:"query"`
	Headers []string   `yaml:"headers"`
	Cookies []string   `yaml:"cookies"`
}

type privateNode struct {
	Cookie string `yaml:"cookie"`
	Header string `yaml:"header"`
}

type cdnNode struct {
	CacheControl string `yaml:"cache_control"`
}

// DecodePolicy decodes and compiles a route's `cache:` node strictly. A
// zero node, or `cache: off`, returns a nil *Policy (the route does not
// cache). Errors are rules.Errors naming file:line:col and the key.
func DecodePolicy(n rules.Node) (*Policy, error) {
	if n.IsZero() {
		return nil, nil
	}
	var word string
	if n.Decode(&word) == nil {
		if word == "off" {
			return nil, nil
		}
		return nil, rules.Errors{n.Errorf("", "want off or a mapping of cache settings, got %q", word)}
	}
	var pn policyNode
	if err := n.Decode(&pn); err != nil {
		return nil, err
	}
	spec := PolicySpec{
		TTL: pn.TTL.Duration(), TTLFromOrigin: pn.TTLFromOrigin,
		StaleWhileRevalidate: pn.StaleWhileRevalidate.Duration(), StaleIfError: pn.StaleIfError.Duration(),
		NegativeTTL: pn.NegativeTTL.Duration(), SessionCookies: pn.SessionCookies,
		Private: PrivateSpec(pn.Private), CDNCacheControl: pn.CDN.CacheControl, Tags: pn.Tags,
		CoalesceTimeout: pn.CoalesceTimeout.Duration(),
		Key:             KeySpec{Headers: pn.Key.Headers, Cookies: pn.Key.Cookies},
	}
	if q := pn.Key.Query; !q.IsZero() {
		if q.Decode(&spec.Key.Query) != nil {
			if err := q.Decode(&spec.Key.QueryParams); err != nil {
				return nil, rules.Errors{q.Errorf("", "want all, none or a list of parameter names")}
			}
		}
	}
	p, err := CompilePolicy(spec)
	return p, positioned(n, err)
}

// positioned turns SpecErrors into rules.Errors at their keys below n.
func positioned(n rules.Node, err error) error {
	if err == nil {
		return nil
	}
	var out rules.Errors
	for _, e := range flatten(err) {
		var se *SpecError
		if !errors.As(e, &se) {
			out = append(out, n.Errorf("", "%v", e))
			continue
		}
		at, rest := n, se.Key
		for {
			head, tail, more := strings.Cut(rest, ".")
			if !more {
				break
			}
			at, rest = at.Get(head), tail
		}
		out = append(out, at.Errorf(rest, "%s", se.Msg))
	}
	return out
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return slices.Clone(j.Unwrap())
	}
	return []error{err}
}

// optionsNode is the top-level `cache:` mapping.
type optionsNode struct {
	MaxBytes   rules.Size     `yaml:"max_bytes"`
	MaxObject  rules.Size     `yaml:"max_object"`
	HitForMiss rules.Duration `yaml:"hit_for_miss"`
	Personal   string         `yaml:"personal"`
}

// DecodeOptions decodes the top-level `cache:` node (max_bytes,
// max_object, hit_for_miss, personal) into Options; the caller adds Now, OnStore,
// Metrics and Logger. A zero node gives the defaults.
func DecodeOptions(n rules.Node) (Options, error) {
	var on optionsNode
	if err := n.Decode(&on); err != nil {
		return Options{}, err
	}
	o := Options{MaxBytes: on.MaxBytes.Bytes(), MaxObject: on.MaxObject.Bytes(), HitForMiss: on.HitForMiss.Duration()}
	var errs rules.Errors
	var err error
	if o.Personal, err = ParsePersonalMode(on.Personal); err != nil {
		errs = append(errs, n.Errorf("personal", "%v", err))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, n.Errorf("max_bytes", "must not be negative"))
	}
	if o.MaxObject < 0 {
		errs = append(errs, n.Errorf("max_object", "must not be negative"))
	}
	maxBytes := cmp.Or(o.MaxBytes, defaultMaxBytes)
	if o.MaxObject > maxBytes {
		errs = append(errs, n.Errorf("max_object", "%d bytes exceeds max_bytes (%d)", o.MaxObject, maxBytes))
	}
	if len(errs) > 0 {
		return Options{}, errs
	}
	return o, nil
}
