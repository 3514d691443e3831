package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
	"flashgate/origin"
	"flashgate/route"
)

// gatewayPrefix is the path prefix of the gateway's own endpoints.
var gatewayPrefix = []byte("/_flashgate/")

// handle is the fasthttp handler: it loads the snapshot once, runs the
// pipeline on it and records the outcome. Nothing here logs synchronously.
func (s *Server) handle(ctx *fasthttp.RequestCtx) { s.handleFrom(ctx, peerAddr(ctx)) }

// handleFrom is handle for a request from peer, the connection's TCP peer
// (see peerAddr), which the server's connection records know already.
func (s *Server) handleFrom(ctx *fasthttp.RequestCtx, peer netip.Addr) {
	x := acquireExchange(ctx, s.current.Load(), s.requestTime(ctx))
	x.peer = peer
	counters := s.serve(x)
	ctx.Response.Header.SetCanonical(keyRequestID, x.RequestID)
	status := ctx.Response.StatusCode()
	var end int64
	if counters.counted(status) {
		end = s.now().UnixNano()
		counters.observe(status, end-x.Now)
	}
	if s.access != nil {
		if end == 0 {
			end = s.now().UnixNano()
		}
		s.access.record(x, status, end)
	}
	releaseExchange(x)
}

// requestTime is the request's time in unix nanos. fasthttp has already
// read the clock when it began serving the request (ctx.Time()), so a
// second read per request is saved; an injected Options.Now (tests) still
// governs every timestamp, and a context nobody stamped (a handler called
// directly) falls back to the server's clock.
func (s *Server) requestTime(ctx *fasthttp.RequestCtx) int64 {
	if s.env.rc.now == nil { // Options.Now (which the Env hands the cache) was not injected
		if t := ctx.Time(); !t.IsZero() {
			return t.UnixNano()
		}
	}
	return s.now().UnixNano()
}

// serve is the request pipeline, top to bottom. Each stage either answers
// (and returns) or hands on to the next; see DESIGN.md "How a request
// flows". It returns the counters the answer is recorded under.
func (s *Server) serve(x *Exchange) *statusCounters {
	ctx, snap := x.Ctx, x.Snap

	// Who is asking (x.peer is the TCP peer), and under which request id.
	x.peerTrusted = edge.InPrefixes(x.peer, snap.trusted)
	x.ClientIP = x.peer
	if x.peerTrusted {
		x.ClientIP = clientBehind(x.peer, ctx.Request.Header.PeekCanonical(keyXFF), snap.trusted)
	}
	resolveRequestID(x, s.ids)

	// 0. The Host: required (HTTP/1.0 may omit it, but then no route, key
	// or origin could be chosen honestly), and one of server.hosts when
	// those are set, so a client cannot mint cache keys or have the shop
	// render pages for a host that is not the shop's.
	if ans := checkRequest(ctx, snap.hosts); ans != nil {
		ans.write(ctx)
		return &s.metrics.edge
	}

	// 1. Normalise the path. The normalised path is what is matched and
	// what the origin receives, so the two can never disagree.
	var err error
	x.Path, err = route.Normalize(x.Path[:0], ctx.Request.URI().PathOriginal())
	if err != nil {
		pathAnswer(err).write(ctx)
		return &s.metrics.edge
	}

	// 2. The gateway's own endpoints.
	if bytes.HasPrefix(x.Path, gatewayPrefix) {
		if !serveAdmissionPage(x) {
			s.serveGateway(x)
		}
		return &s.metrics.gateway
	}

	// 3. Route.
	rt := s.match(x)
	if rt == nil {
		return &s.metrics.edge // 404 or 405 written by match
	}
	x.Route = rt
	if rt.MaxBodyBytes > 0 && len(ctx.Request.Body()) > rt.MaxBodyBytes {
		ansTooLarge.write(ctx)
		return &rt.requests
	}

	// 3b. Plan B switches (closed, degraded) and hot keys (observed; a hot
	// key over its own bucket is refused): hot_stage.go.
	if s.protect(x, rt) {
		return &rt.requests
	}

	// 4. Admission filters: a rejection is a prebuilt answer.
	if rt.Admission != nil && !rt.Admission.Admit(x) {
		return &rt.requests
	}

	// 4a. An async route queues the admitted purchase and answers 202
	// with its ticket; the dispatcher feeds the origin (async_stage.go).
	if rt.Async != nil {
		host := rt.HostRewrite
		if host == nil {
			host = ctx.Request.Header.Host()
		}
		rt.Async.accept(x, host)
		return &rt.requests
	}

	// 5. A fresh hit, answered without building the origin request; else
	// the origin request built by the forwarding rules, then the cache
	// around the origin call, or the origin alone.
	host := rt.HostRewrite
	if host == nil {
		host = ctx.Request.Header.Host()
	}
	cs, fetch := stagesFor(x, rt) // a hot key's micro-cache, bulkhead, stale-only: hot_stage.go
	if cs == nil || !cs.ServeFresh(x, host) {
		x.outBuilt = true
		buildOutbound(x, &x.out, host)
		if cs != nil {
			err = cs.Serve(x, fetch)
		} else {
			err = fetch(&x.out, &ctx.Response)
		}
		if err != nil {
			s.logDebug("origin request failed", x, err)
			x.freq.NotSent = origin.NotSent(err)
			fallBack(x, err) // the route's fallback, else cache errors, then origin 502/503/504
		}
	}

	// 6. ESI assembly of a successful answer.
	if err == nil && rt.ESI != nil {
		if err := rt.ESI.Assemble(x); err != nil {
			s.metrics.esiErrors.Inc()
			s.logDebug("esi assembly failed", x, err)
		}
	}

	// 7. Filters that asked to see the answer.
	if x.Observe {
		rt.Admission.Observe(x)
	}

	// 8. Nothing personal leaves marked for a shared cache.
	markPersonal(x)
	return &rt.requests
}

// match looks the request up in the route table. It returns the route to
// serve, the unmatched fallback, or nil after writing a 404 or 405.
func (s *Server) match(x *Exchange) *Route {
	ctx, snap := x.Ctx, x.Snap
	i, res := snap.table.Match(ctx.Request.Header.Host(), ctx.Method(), x.Path, &x.Params)
	switch res {
	case route.Found:
		return snap.routes[i]
	case route.MethodNotAllowed:
		ansMethod.write(ctx)
		if j, _ := snap.allowTable.Match(ctx.Request.Header.Host(), ctx.Method(), x.Path, nil); j >= 0 {
			ctx.Response.Header.Set("Allow", snap.allow[j])
		}
		return nil
	case route.CaseVariant:
		ansCaseVariant.write(ctx) // never the fallback: see route.CaseVariant
		return nil
	}
	if snap.fallback != nil {
		return snap.fallback
	}
	ansNotFound.write(ctx)
	return nil
}

// logDebug logs a per-request failure at debug level only: per-request
// events are counted in metrics; this detail is for an operator who
// turned debug on, and costs nothing when it is off.
func (s *Server) logDebug(msg string, x *Exchange, err error) {
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	name := ""
	if x.Route != nil {
		name = x.Route.Name
	}
	s.log.LogAttrs(context.Background(), slog.LevelDebug, msg, slog.String("route", name),
		slog.String("request_id", string(x.RequestID)), slog.String("error", err.Error()))
}
