package proxy

import (
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"flashgate/filters"
	"flashgate/rules"
)

// identityHeaders are the request headers a route's origin reads a user's
// identity from (origins.<name>.identity). They come from the gateway
// only: buildOutbound drops them from every client, trusted proxies too,
// and sets those with a source from it (the uid cookie the purchase limit
// keys on), so the shop acts on the identity the filters counted. Without
// this a client sends "X-User-Id: alice" beside its own cookie and buys
// again as alice, past a limit keyed on the cookie. Immutable.
type identityHeaders []identityHeader

type identityHeader struct {
	name   string // canonical
	cookie []byte // set from this cookie, or
	header []byte // from this header of the client's request; both nil: only dropped
}

func compileIdentity(ids []rules.OriginIdentity) identityHeaders {
	out := make(identityHeaders, 0, len(ids))
	for _, id := range ids {
		h := identityHeader{name: id.Header}
		if src, name, ok := strings.Cut(id.From, ":"); ok {
			if src == "cookie" {
				h.cookie = []byte(name)
			} else {
				h.header = []byte(name)
			}
		}
		out = append(out, h)
	}
	return out
}

// has reports whether key names one of the headers. 0 allocs.
func (ih identityHeaders) has(key []byte) bool {
	for i := range ih {
		if equalFold(key, ih[i].name) {
			return true
		}
	}
	return false
}

// hasName is has for a string name.
func (ih identityHeaders) hasName(name string) bool {
	for i := range ih {
		if equalFold(name, ih[i].name) {
			return true
		}
	}
	return false
}

// set writes the headers that have a source into out from in.
func (ih identityHeaders) set(in, out *fasthttp.Request) {
	for i := range ih {
		h := &ih[i]
		var v []byte
		switch {
		case h.cookie != nil:
			v = in.Header.CookieBytes(h.cookie)
		case h.header != nil:
			v = in.Header.PeekBytes(h.header)
		}
		if len(v) > 0 {
			out.Header.Set(h.name, string(v))
		}
	}
}

// keyIdentity makes the route's cache stage know that the identity
// headers never reach the origin as the client sent them, so a cache key
// that reads one never takes the fresh path on the client's value.
func (rt *Route) keyIdentity() {
	st, ok := rt.Cache.(*cacheStage)
	if !ok || len(rt.identity) == 0 {
		return
	}
	for trusted := range st.keyAsSent {
		st.keyAsSent[trusted] = st.policy.ReadsOnlyAsSent(plainForwarding{trusted: trusted == 1, identity: rt.identity})
	}
}

// IdentityWarnings lists, for `flashgate -check`, the routes whose filters
// key on one user identity while their origin reads the user from another
// (origins.<name>.identity): a purchase limit on the uid cookie does not
// bound purchases the shop books to a header the client sets. Each names
// the route's file:line, the filter and both identities.
func IdentityWarnings(cfg *rules.Config) []string {
	byName := map[string]*rules.Origin{}
	for _, o := range cfg.Origins {
		byName[o.Name] = o
	}
	var out []string
	for _, r := range cfg.Routes {
		o := byName[r.Origin]
		if o == nil || len(o.Identity) == 0 {
			continue
		}
		for _, fn := range r.Filters {
			kind, spec, err := fn.Kind()
			if err != nil {
				continue
			}
			key, ok := filters.KeySource(spec)
			if !ok || key == "ip" || key == "device" {
				continue
			}
			for _, id := range o.Identity {
				if w := identityMismatch(key, id); w != "" {
					out = append(out, fmt.Sprintf("%s: route %q: %s keys on %s, but %s", fn.Pos(), r.Name, kind, key, w))
				}
			}
		}
	}
	return out
}

// identityMismatch says how a filter keyed on key and an origin reading
// id disagree, or "" when they agree.
func identityMismatch(key string, id rules.OriginIdentity) string {
	switch {
	case key == "header:"+id.Header && id.From != key:
		return fmt.Sprintf("the gateway removes %s before the origin sees it (origins identity); key the filter on what %s is set from (%s)",
			id.Header, id.Header, orStr(id.From, "nothing"))
	case id.From != "" && id.From != key:
		return fmt.Sprintf("the origin reads the user from %s, which the gateway sets from %s: limits on one identity do not bound the other",
			id.Header, id.From)
	}
	return ""
}
