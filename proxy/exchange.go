package proxy

import (
	"net/netip"
	"sync"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/filters"
	"flashgate/route"
)

// Exchange is the per-request state passed down the pipeline and to the
// stages (Admission, Cache, Assembler). It is pooled: it and every byte
// slice in it are valid only until the request handler returns; a stage
// must copy what it keeps. Not safe for concurrent use, except that a
// FetchFunc may run on another goroutine while the handler waits for it.
type Exchange struct {
	Ctx   *fasthttp.RequestCtx
	Snap  *Snapshot // the snapshot the request started with; used to its end
	Route *Route    // matched route; nil for gateway endpoints and edge answers
	// Params holds the route's path parameters ({id}).
	Params route.Params
	// Path is the normalised path that was matched and is sent upstream.
	Path []byte
	// ClientIP is the resolved client address (see ClientIP).
	ClientIP netip.Addr
	// Now is the request's start time in Unix nanoseconds, from the
	// server's clock; stages use it instead of calling time.Now.
	Now int64
	// RequestID is the X-Request-Id sent upstream and echoed to the client.
	RequestID []byte
	// Observe is set by an Admission that wants Observe called.
	Observe bool
	// personal: the cache stage passed the request by as personal, so its
	// answer leaves marked for no shared cache (markPersonal).
	personal bool

	peer        netip.Addr // TCP peer
	peerTrusted bool
	scratch     []byte // reusable buffer for header values
	hotKey      []byte // reusable buffer for hot-key detection (hot_stage.go)
	hot         bool   // one of the request's keys is hot
	uri         []byte // RequestURI's buffer
	conn        []byte // the client's Connection header, once connRead
	connRead    bool
	out         fasthttp.Request
	// outBuilt records that buildOutbound filled out, so a request answered
	// before it (an edge or admission rejection) skips out.Reset on
	// release: 1.3% of a pipelined rejection's CPU (perf).
	outBuilt bool
	esi      esiScratch      // shared by the cache and ESI stages (fragments.go)
	key      cache.Scratch   // the cache key of a fresh hit (cacheStage.ServeFresh)
	freq     filters.Request // the admission filters' view, see admission.go
	// filterCookies holds the Set-Cookie values filters added to an
	// admitted request's response, NUL-separated: the origin's answer
	// replaces the response, so they are added back over it (admission.go).
	filterCookies []byte
}

// Outbound returns the request that is sent to the origin: built from the
// client's request by the forwarding rules (forward.go) once the route is
// known and before the cache stage, so the cache keys on exactly what the
// origin receives. It is valid until the request ends.
func (x *Exchange) Outbound() *fasthttp.Request { return &x.out }

// RequestURI returns the normalised path and the query as the client sent
// it: the page URI ESI resolves relative includes and $(QUERY_STRING)
// against. It does not need the outbound request, which a cache hit never
// builds. Valid until the request ends.
func (x *Exchange) RequestURI() []byte {
	q := x.Ctx.Request.URI().QueryString()
	if len(q) == 0 {
		return x.Path
	}
	x.uri = append(append(append(x.uri[:0], x.Path...), '?'), q...)
	return x.uri
}

// SentAsIs is cache.HeaderForwarding: whether buildOutbound passes the
// client's header called name to the origin unchanged. Headers it drops,
// rebuilds (X-Forwarded-*, Via, X-Request-Id, Host) or drops from an
// untrusted peer are not, even when the client did not send them.
func (x *Exchange) SentAsIs(name string) bool {
	if x.Route != nil && x.Route.identity.hasName(name) {
		return false
	}
	return sentAsIs(name, x.connection(), x.peerTrusted)
}

// connection returns the client's Connection header, looked up once per
// request (a fresh hit asks for it several times).
func (x *Exchange) connection() []byte {
	if !x.connRead {
		x.conn, x.connRead = x.Ctx.Request.Header.PeekCanonical(keyConnection), true
	}
	return x.conn
}

// plainConnection reports whether the client's Connection header names no
// header but Keep-Alive, which is never forwarded anyway: then which
// headers reach the origin as sent depends on the peer's trust alone.
func (x *Exchange) plainConnection() bool {
	c := x.connection()
	return len(c) == 0 || equalFold(c, "keep-alive")
}

// sentAsIs is SentAsIs for a request with Connection header conn from a
// peer trusted or not.
func sentAsIs(name string, conn []byte, trusted bool) bool {
	switch outboundClass(name, conn) {
	case keepHeader:
		return true
	case dropUntrusted:
		return trusted
	}
	return false
}

var exchangePool = sync.Pool{New: func() any { return new(Exchange) }}

func acquireExchange(ctx *fasthttp.RequestCtx, snap *Snapshot, now int64) *Exchange {
	x := exchangePool.Get().(*Exchange)
	x.Ctx, x.Snap, x.Now = ctx, snap, now
	return x
}

// releaseExchange resets x and returns it to the pool. x must not be used
// afterwards (the fasthttp rule for pooled objects).
func releaseExchange(x *Exchange) {
	x.Ctx, x.Snap, x.Route = nil, nil, nil
	x.Params.Reset()
	x.Path, x.RequestID, x.uri = x.Path[:0], x.RequestID[:0], x.uri[:0]
	x.ClientIP, x.peer = netip.Addr{}, netip.Addr{}
	x.Now, x.Observe, x.peerTrusted, x.personal, x.hot = 0, false, false, false, false
	x.conn, x.connRead = nil, false
	if x.outBuilt {
		x.out.Reset()
		x.outBuilt = false
	}
	x.esi.reset()
	x.key.Reset()
	x.freq.Reset()
	x.filterCookies = x.filterCookies[:0]
	exchangePool.Put(x)
}
