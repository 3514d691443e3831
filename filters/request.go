package filters

import (
	"net/netip"

	"github.com/valyala/fasthttp"

	"flashgate/route"
)

// maxCachedIdentities bounds the per-request identity cache: a chain rarely
// uses more than two identity settings (say per IP and per user); a third
// and later ones are recomputed on each use, which is correct, only slower.
const maxCachedIdentities = 4

// Request is the per-request view a filter sees. The proxy fills the
// exported fields before Chain.Check and keeps the Request (and Ctx) valid
// until Chain.Observe has returned.
//
// The zero value is not usable: Ctx must be set. A Request is used by one
// goroutine at a time; pool it and call Reset before reuse. Nothing a filter
// gets from it (Params values, Scratch) may be kept after the request ends.
type Request struct {
	// Ctx is the fasthttp request. Filters read the request from it; they
	// may add response headers (Set-Cookie) to Ctx.Response, which the proxy
	// and Verdict.Write keep.
	Ctx *fasthttp.RequestCtx
	// Route is the matched route's name.
	Route string
	// Params holds the matched route's path parameters (nil means none).
	Params *route.Params
	// ClientIP is the client address resolved by the proxy (X-Forwarded-For
	// honoured only from trusted CIDRs).
	ClientIP netip.Addr
	// TLS reports that the client reached the CDN or gateway over TLS, so
	// cookies set by filters are Secure.
	TLS bool
	// Now is the request's time in unix nanoseconds, read once by the proxy.
	Now int64
	// Tags are the tags the tags filter found for this client (Tags.Has).
	Tags Tags
	// NotSent is set by the proxy before Observe when the origin never
	// received the request (the gateway answered an error before sending
	// it: origin.NotSent), so a filter may give back what the attempt took.
	NotSent bool
	// Scratch is a reusable buffer for filters (HMAC sums, decoded bytes).
	// A filter may use it only within one call; Reset keeps its capacity.
	Scratch []byte

	ids  [maxCachedIdentities]cachedIdentity
	nids int
	// held records the reservations this request's Check made, one bit per
	// reserving filter of the chain (Build.HoldBit), so Observe and Cancel
	// release exactly those.
	held uint8
}

type cachedIdentity struct {
	id    *Identity
	key   uint64
	found bool
}

// Reset clears r for reuse, keeping Scratch's capacity.
func (r *Request) Reset() {
	scratch := r.Scratch[:0]
	*r = Request{Scratch: scratch}
}

// Param returns the route parameter name, or nil.
func (r *Request) Param(name string) []byte {
	if r.Params == nil {
		return nil
	}
	return r.Params.Get(name)
}

// Item returns the route parameter name as an item id, canonical for
// decimal ids: leading zeros are dropped ("007" → "7"), because origins
// parse ids as numbers and "/buy/01" must meet the stock, window and
// purchase state of item 1. Other values are returned as they are. 0 allocs.
func (r *Request) Item(name string) []byte {
	return canonicalItem(r.Param(name))
}

func canonicalItem(v []byte) []byte {
	if len(v) < 2 || v[0] != '0' {
		return v
	}
	i := 0
	for i < len(v)-1 && v[i] == '0' {
		i++
	}
	for _, c := range v[i:] {
		if c < '0' || c > '9' {
			return v
		}
	}
	return v[i:]
}

// Key returns the client's identity under id, computed once per request
// and identity setting. found is false when the configured source (cookie,
// header, ...) was absent or failed its signature check, in which case key
// is the client's grouped IP under a separate namespace (see Identity).
func (r *Request) Key(id *Identity) (key uint64, found bool) {
	for i := 0; i < r.nids; i++ {
		if r.ids[i].id == id {
			return r.ids[i].key, r.ids[i].found
		}
	}
	key, found = id.compute(r)
	if r.nids < len(r.ids) {
		r.ids[r.nids] = cachedIdentity{id: id, key: key, found: found}
		r.nids++
	}
	return key, found
}

// Tags is a set of up to 64 tags, each a bit allocated by Env.TagBit.
type Tags uint64

// Has reports whether tag bit is set.
func (t Tags) Has(bit uint8) bool { return t&(1<<bit) != 0 }

// With returns t with bit set.
func (t Tags) With(bit uint8) Tags { return t | 1<<bit }

// scratch returns Scratch resliced to n bytes, growing it once if needed.
func (r *Request) scratch(n int) []byte {
	if cap(r.Scratch) < n {
		r.Scratch = make([]byte, n, max(n, 256))
	}
	return r.Scratch[:n]
}

// Hold records that the filter owning bit (from Build.HoldBit) reserved
// state for this request.
func (r *Request) Hold(bit uint8) { r.held |= bit }

// Release clears bit and reports whether it was held, so a reservation is
// given back at most once whichever of Cancel and Observe runs.
func (r *Request) Release(bit uint8) bool {
	had := r.held&bit != 0
	r.held &^= bit
	return had
}

// itemName is canonicalItem for configured item ids.
func itemName(s string) string { return string(canonicalItem([]byte(s))) }
