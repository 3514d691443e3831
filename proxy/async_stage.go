package proxy

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/filters"
	"flashgate/orders"
	"flashgate/origin"
	"flashgate/route"
	"flashgate/rules"
)

// asyncQueue is the purchase queue of one route with an async: section
// (docs/orders.md): admitted requests are queued and answered 202 with a
// ticket; its dispatcher delivers them to the route's origin. It lives in
// the Env under the route's name for the life of the process, so a reload
// keeps the queue, its tickets and their outcomes; the tunables follow
// the rules. Safe for concurrent use.
type asyncQueue struct {
	name  string
	q     orders.Queue
	ds    *orders.Dispatcher
	m     *orders.Metrics
	live  atomic.Pointer[asyncLive]
	now   func() time.Time
	queue int // the limit the queue was made with (a restart applies another)
}

// asyncLive is what the serving rules say about the queue.
type asyncLive struct {
	rt    *Route
	spec  *rules.Async
	table *route.Table // the route's pattern alone, to find a job's item again
}

// asyncEnv holds the Env's route queues.
type asyncEnv struct {
	mu     sync.Mutex
	queues map[string]*asyncQueue
	reads  ticketReads
	list   atomic.Pointer[asyncSet] // queues and reads, for asyncList
}

type asyncSet struct {
	queues []*asyncQueue
	reads  ticketReads
}

// ticketReads counts reads of /_flashgate/orders/{ticket} by what they
// found: the polling load that waiting buyers put on the gateway.
type ticketReads struct{ pending, done, unknown *metrics.Counter }

func newTicketReads(set *metrics.Set) ticketReads {
	c := func(state string) *metrics.Counter {
		return set.GetOrCreateCounter(`flashgate_orders_ticket_reads_total{state="` + state + `"}`)
	}
	return ticketReads{pending: c("pending"), done: c("done"), unknown: c("unknown")}
}

// asyncFor returns the queue of route name, creating (and, in a live Env,
// starting) it on first use.
func (e *Env) asyncFor(name string, a *rules.Async) *asyncQueue {
	e.async.mu.Lock()
	defer e.async.mu.Unlock()
	if aq := e.async.queues[name]; aq != nil {
		return aq
	}
	if e.async.queues == nil {
		e.async.queues = map[string]*asyncQueue{}
		e.async.reads = newTicketReads(e.Metrics.set)
	}
	aq := &asyncQueue{name: name, queue: a.Queue}
	if r := e.clusterRedis(); r != nil {
		// Shared: any instance delivers; a job read by an instance that
		// died is claimed once all its attempts would have timed out.
		claim := time.Duration(a.Retries+1)*orDur(a.Timeout, origin.DefaultTimeout) + 5*time.Second
		aq.q = orders.NewRedis(r, filters.HashString("async\x00"+name), a.Queue, a.Keep, claim)
	} else {
		aq.q = orders.NewMemory(a.Queue, int64(a.Keep))
	}
	aq.m = orders.NewMetrics(e.Metrics.set, name, aq.q)
	aq.now = e.adm.clock // Options.Now, nil = time.Now
	if aq.now == nil {
		aq.now = time.Now
	}
	aq.ds = orders.NewDispatcher(aq.q, aq, dispatchConfig(a, 0), aq.m, aq.now)
	e.async.queues[name] = aq
	set := &asyncSet{reads: e.async.reads}
	for _, q := range e.async.queues {
		set.queues = append(set.queues, q)
	}
	e.async.list.Store(set)
	return aq
}

func dispatchConfig(a *rules.Async, routeTimeout time.Duration) orders.Config {
	return orders.Config{Interval: a.Rate.Interval(), Concurrency: a.Concurrency,
		Timeout: orDur(a.Timeout, orDur(routeTimeout, origin.DefaultTimeout)), Retries: a.Retries, TTL: a.TTL}
}

// compileAsync gives every route with an async: section its queue. The
// queues take the new rules when the snapshot is committed (commitAsync).
func (s *Snapshot) compileAsync(cfg *rules.Config, env *Env) error {
	var errs []error
	for _, r := range cfg.Routes {
		if r.Async == nil {
			continue
		}
		rt := s.byName[r.Name]
		if rt == nil || rt.Spec != r {
			continue
		}
		t, err := route.NewTable([]route.Entry{{Pattern: r.Pattern}}, cfg.Server.CaseInsensitive)
		if err != nil {
			errs = append(errs, posErr(r.Async.Pos, "async", "%v", err))
			continue
		}
		rt.Async = env.asyncFor(r.Name, r.Async)
		rt.asyncLive = &asyncLive{rt: rt, spec: r.Async, table: t}
	}
	return errors.Join(errs...)
}

// commitAsync points each queue at the committed rules and starts its
// dispatcher (a passive Env, as -check uses, starts nothing).
func (s *Snapshot) commitAsync(env *Env) {
	for _, rt := range s.routes {
		if rt.Async == nil {
			continue
		}
		l := rt.asyncLive
		rt.Async.live.Store(l)
		if m, ok := rt.Async.q.(*orders.Memory); ok {
			m.SetKeep(int64(l.spec.Keep))
		}
		if !env.passive {
			rt.Async.ds.SetConfig(dispatchConfig(l.spec, rt.Timeout))
		}
	}
}

// stopAsync stops every dispatcher, letting deliveries in flight finish.
// Orders still queued in memory are lost (docs/orders.md).
func (e *Env) stopAsync() {
	qs, _ := e.asyncQueues()
	for _, aq := range qs {
		aq.ds.Stop()
	}
}

// accept queues an admitted request and answers 202 with its ticket (or
// the pending ticket the user already has for the item), or 503 when the
// queue is full. Whatever the filters reserved travels with the job.
func (aq *asyncQueue) accept(x *Exchange, host []byte) {
	l := aq.live.Load()
	if x.Route.Admission == nil {
		x.admissionRequest() // the item and client as the filters would see them
	}
	j := &orders.Job{Ticket: orders.NewTicket(), Item: string(x.freq.Item(l.spec.Param)), Accepted: x.Now,
		Dedupe: aq.dedupe(x, l.spec), Req: &fasthttp.Request{}}
	buildOutbound(x, &x.out, host)
	x.outBuilt = true
	x.out.CopyTo(j.Req)
	j.Req.Header.Set(hdrIdempotencyKey, j.Ticket)
	j.State = appendJobState(nil, &x.freq)
	ticket, place, dup, err := aq.q.Submit(j, x.Now)
	aq.m.Accepted(dup, err)
	if err != nil || dup {
		// Nothing of this request is queued: give back what it reserved.
		if c := admissionChain(x.Route); c != nil {
			c.Release(&x.freq)
		}
	}
	if err != nil {
		ansQueueFull.write(x.Ctx)
	} else {
		x.scratch = writeTicket(x.Ctx, orders.Status{Ticket: ticket, State: orders.Pending, Place: place, Accepted: x.Now}, x.scratch)
	}
	addFilterCookies(x)
}

// dedupe is the job's user-and-item value: one pending ticket each.
func (aq *asyncQueue) dedupe(x *Exchange, a *rules.Async) uint64 {
	var who []byte
	switch src, name, _ := strings.Cut(a.User, ":"); src {
	case "cookie":
		who = x.Ctx.Request.Header.Cookie(name)
	case "header":
		who = x.Ctx.Request.Header.Peek(name)
	}
	ip := x.ClientIP.As16()
	h := filters.HashBytes(ip[:])
	if len(who) > 0 {
		h = filters.Mix(filters.HashString(a.User), filters.HashBytes(who))
	}
	return filters.Mix(h, filters.HashBytes(x.freq.Item(a.Param))) | 1 // never 0 ("none")
}

// Deliver sends a job to the route's origin as the serving rules define it.
func (aq *asyncQueue) Deliver(j *orders.Job, resp *fasthttp.Response, timeout time.Duration) error {
	rt := aq.live.Load().rt
	if err := rt.Origin.Do(j.Req, resp, timeout); err != nil {
		return err
	}
	cleanResponse(resp)
	return nil
}

// SoldOut asks the admitting chain's stock gates about the job's item.
func (aq *asyncQueue) SoldOut(j *orders.Job) bool {
	c := admissionChain(aq.live.Load().rt)
	if c == nil {
		return false
	}
	return c.SoldOut(aq.request(j))
}

// Settle shows the outcome to the route's filters, as the synchronous path
// does after the origin's answer: an answer (or, when every attempt
// failed, a 502) is observed; a job answered at the edge (sold out,
// expired) gives its reservations back. The route's chain is the one
// serving now (on the instance delivering): the reservations are state
// kept by the filters' stable identities, which a reload that keeps the
// route's filters in the same order keeps too.
func (aq *asyncQueue) Settle(j *orders.Job, resp *fasthttp.Response) bool {
	c := admissionChain(aq.live.Load().rt)
	if c == nil {
		return false
	}
	r := aq.request(j)
	if resp == nil {
		c.Release(r)
		return false
	}
	c.Observe(r, resp)
	return c.SoldOut(r)
}

// admissionChain returns rt's filter chain, nil without filters.
func admissionChain(rt *Route) *filters.Chain {
	if a, ok := rt.Admission.(*admissionStage); ok {
		return a.chain
	}
	return nil
}

// request rebuilds the filters' view of a job's request: its stored
// admission state over a context holding the job's request, and its path
// parameters found again.
func (aq *asyncQueue) request(j *orders.Job) *filters.Request {
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(j.Req, nil, nil)
	l := aq.live.Load()
	r := &filters.Request{Ctx: ctx, Route: l.rt.Name, Params: &route.Params{}, Now: aq.now().UnixNano()}
	l.table.Match(nil, ctx.Method(), ctx.Request.URI().Path(), r.Params)
	readJobState(r, j.State)
	return r
}

// appendJobState encodes what settling needs of an admitted request and
// cannot find again in the request itself: the filters' reservations, the
// client address and TLS. Version byte first, so a queue shared by
// instances of two versions can tell.
func appendJobState(b []byte, r *filters.Request) []byte {
	b = append(b, 1, r.Holds())
	if r.TLS {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	ip, _ := r.ClientIP.MarshalBinary()
	return append(b, ip...)
}

func readJobState(r *filters.Request, b []byte) {
	if len(b) < 3 || b[0] != 1 {
		return // not ours: nothing held to settle
	}
	r.SetHolds(b[1])
	r.TLS = b[2] == 1
	_ = r.ClientIP.UnmarshalBinary(b[3:])
}

// hdrIdempotencyKey names the key each delivery of a ticket carries.
const hdrIdempotencyKey = "Idempotency-Key"

var ansQueueFull = newAnswer(fasthttp.StatusServiceUnavailable, "queue_full", "Very busy",
	"The order queue is full. Please try again in a few seconds.", "5")
