package proxy

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
)

// connTimeouts enforces server.read_timeout, write_timeout and idle_timeout
// on client connections with one sweeper goroutine instead of per-request
// socket deadlines.
//
// Why: given ReadTimeout, WriteTimeout and IdleTimeout, fasthttp reads the
// clock and re-arms up to three socket deadlines on every keep-alive request
// (serveConn), ≈510 ns per request on the bench box: 12–19% of a pipelined
// rejection, ~5% of a cache hit. nginx avoids the same cost with lazy
// timers. Here each connection keeps a record of its phase and when the
// phase began, stamped from a coarse clock by the fasthttp ConnState hook
// and the handler wrap; every tick the sweeper makes the blocked I/O of a
// connection past its phase's limit fail by moving its deadline into the
// past. The record hangs on the server's connection wrapper (lfConn,
// bare_lf.go), so the request path finds it with a field read; the set
// holds the same records for the sweeper.
//
// Precision: a phase is stamped up to one tick before it really began, so
// the sweeper waits one tick more than the limit; a connection is cut no
// sooner than its timeout and at most two ticks after it (while the sweeper
// is scheduled on time).
//
// Per request it costs three record lookups (a field read on an lfConn, a
// lock-free sync.Map lookup on any other connection) and three atomic
// stamps (StateActive, the handler wrap, StateIdle), no clock read and no
// allocation. sync.Map, because its reads take no lock: a lookup measured
// 18 ns against 31–37 ns for a 64-way sharded map under RWMutex (2 cores,
// 1000 connections). Registering a
// connection allocates. The record set holds one entry per open
// connection, so it is bounded by server.concurrency; a sweep visits
// every entry, ≈47 ns each (BenchmarkConnTimeoutsSweep): 100k open
// connections cost ≈2% of a core at the default 250 ms tick.
//
// The sweeper runs from start (Serve) until stop (a Shutdown that closed
// every connection) or, after drain (a Shutdown that gave up), until no
// connection is left. All methods are safe for concurrent use.
type connTimeouts struct {
	limit        [numPhases]int64 // per phase, in ns; 0 means none
	writeTimeout time.Duration
	tick         time.Duration
	base         time.Time    // the clock's origin (monotonic)
	clock        atomic.Int64 // ns since base at the last tick
	conns        sync.Map     // net.Conn → *connRecord

	mu       sync.Mutex
	sweeper  *sweeperRun // nil when not running
	draining bool        // the sweeper exits once conns is empty
}

// sweeperRun is one run of the sweeper goroutine.
type sweeperRun struct {
	stop chan struct{} // closed by stop
	done chan struct{} // closed when the goroutine has returned
}

// connPhase is what a connection is doing, which decides its time limit.
type connPhase uint8

const (
	// phaseReading: a request is being read, read_timeout. For the first
	// request of a connection it counts from accept, as fasthttp's own
	// ReadTimeout did; for later ones from their first byte.
	phaseReading connPhase = iota
	// phaseHandling: the handler runs; no limit here, since the origin and
	// ESI timeouts bound it.
	phaseHandling
	// phaseWriting: the handler returned and the response is written,
	// write_timeout.
	phaseWriting
	// phaseIdle: a keep-alive connection waits for its next request,
	// idle_timeout.
	phaseIdle
	// phaseExpired: the sweeper has timed the connection out; its next
	// I/O fails and fasthttp closes it. Stamps leave it so.
	phaseExpired
	numPhases
)

// A record's state packs the phase into the low phaseBits bits and the
// clock value at which the phase began above them.
const (
	phaseBits = 3
	phaseMask = 1<<phaseBits - 1
)

func packState(p connPhase, since int64) uint64 { return uint64(since)<<phaseBits | uint64(p) }

func phaseOf(st uint64) connPhase { return connPhase(st & phaseMask) }

func sinceOf(st uint64) int64 { return int64(st >> phaseBits) }

// pastDeadline makes pending and later I/O fail at once with a timeout,
// which fasthttp's worker does not log.
var pastDeadline = time.Unix(1, 0)

// Sweeper tick bounds: a quarter of the smallest timeout, within these.
const (
	maxSweepTick = 250 * time.Millisecond
	minSweepTick = 10 * time.Millisecond
)

// connRecord is one connection's phase and its start. Only the
// connection's own goroutine stamps it; the sweeper only swaps a state it
// has read for expired. It also keeps the peer's address, read once at
// accept: the handler wrap looks the record up anyway, and asking the
// connection on every request (ctx.RemoteAddr) cost 0.6% of a cache hit's
// CPU (perf).
type connRecord struct {
	state atomic.Uint64
	peer  netip.Addr
}

// mark moves r into phase p begun at now, unless the sweeper expired it:
// that must stand, or the connection could be timed out twice or, worse,
// live on with a deadline in the past. A nil r (a connection not
// registered) is a no-op.
func (r *connRecord) mark(p connPhase, now int64) {
	if r == nil {
		return
	}
	old := r.state.Load()
	if phaseOf(old) == phaseExpired {
		return
	}
	// Only the sweeper changes the state concurrently, and only to
	// expired: a failed swap leaves it expired, which is what we want.
	r.state.CompareAndSwap(old, packState(p, now))
}

// newConnTimeouts returns the enforcer for the given limits, each > 0.
func newConnTimeouts(read, write, idle time.Duration) *connTimeouts {
	t := &connTimeouts{writeTimeout: write, base: time.Now()}
	t.limit[phaseReading] = int64(read)
	t.limit[phaseWriting] = int64(write)
	t.limit[phaseIdle] = int64(idle)
	t.tick = min(read, write, idle) / 4
	t.tick = max(minSweepTick, min(t.tick, maxSweepTick))
	return t
}

// now returns the coarse clock: ns since t.base, as of the last tick.
func (t *connTimeouts) now() int64 { return t.clock.Load() }

// recordHolder is a connection that keeps its own record (an lfConn, or
// an lfTLSConn through its embedded lfConn): a field read instead of a
// sync.Map lookup, three a request (≈0.5% of a pass-through request's CPU,
// perf). The set still holds every record, for the sweeper.
type recordHolder interface {
	timeoutRecord() *connRecord
	attachRecord(*connRecord)
}

// record returns c's record, or nil if c is not registered.
func (t *connTimeouts) record(c net.Conn) *connRecord {
	if h, ok := c.(recordHolder); ok {
		if r := h.timeoutRecord(); r != nil {
			return r
		}
	}
	v, ok := t.conns.Load(c)
	if !ok {
		return nil
	}
	return v.(*connRecord)
}

// connState is the fasthttp.Server ConnState hook. fasthttp calls it with
// StateNew from the accept loop and with the others from the connection's
// own goroutine, StateActive at the first byte of each request and
// StateIdle after each response.
func (t *connTimeouts) connState(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		r := &connRecord{peer: edge.PeerAddr(c.RemoteAddr())}
		r.state.Store(packState(phaseReading, t.now()))
		t.conns.Store(c, r)
		if h, ok := c.(recordHolder); ok {
			h.attachRecord(r)
		}
	case fasthttp.StateActive:
		// The first request stays in the reading phase begun at accept.
		if r := t.record(c); r != nil && phaseOf(r.state.Load()) == phaseIdle {
			r.mark(phaseReading, t.now())
		}
	case fasthttp.StateIdle:
		t.record(c).mark(phaseIdle, t.now())
	case fasthttp.StateHijacked, fasthttp.StateClosed:
		t.conns.Delete(c)
	}
}

// wrap returns h with the handling phase marked around it: no limit while
// it runs, write_timeout from its return until StateIdle. h is given the
// peer's address (see peerAddr), from the record when there is one.
func (t *connTimeouts) wrap(h func(*fasthttp.RequestCtx, netip.Addr)) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		r := t.record(ctx.Conn())
		if r == nil {
			h(ctx, peerAddr(ctx))
			return
		}
		r.mark(phaseHandling, t.now())
		h(ctx, r.peer)
		r.mark(phaseWriting, t.now())
	}
}

// start runs the sweeper unless it runs already.
func (t *connTimeouts) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.draining = false
	if t.sweeper != nil {
		return
	}
	t.clock.Store(int64(time.Since(t.base)))
	run := &sweeperRun{stop: make(chan struct{}), done: make(chan struct{})}
	t.sweeper = run
	go t.run(run)
}

// stop ends the sweeper and waits for it to return; a no-op if it is not
// running.
func (t *connTimeouts) stop() {
	t.mu.Lock()
	run := t.sweeper
	t.sweeper = nil
	t.mu.Unlock()
	if run != nil {
		close(run.stop)
		<-run.done
	}
}

// drain lets the sweeper end by itself at the first tick that finds no
// connection, so that connections outliving a Shutdown keep their limits.
func (t *connTimeouts) drain() {
	t.mu.Lock()
	t.draining = true
	t.mu.Unlock()
}

func (t *connTimeouts) run(run *sweeperRun) {
	defer close(run.done)
	tk := time.NewTicker(t.tick)
	defer tk.Stop()
	for {
		select {
		case <-run.stop:
			return
		case <-tk.C:
			if t.sweep(time.Now()) == 0 && t.drained(run) {
				return
			}
		}
	}
}

// drained reports whether run should end because a drain found no
// connection left; it then marks the sweeper as not running.
func (t *connTimeouts) drained(run *sweeperRun) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.draining || t.sweeper != run {
		return false
	}
	t.sweeper = nil
	return true
}

// sweep advances the coarse clock to now and times out every connection
// past its phase's limit. It returns how many connections it saw.
func (t *connTimeouts) sweep(now time.Time) int {
	clock := int64(now.Sub(t.base))
	t.clock.Store(clock)
	// A stamp may predate its event by up to a tick: wait one more.
	slack := int64(t.tick)
	n := 0
	t.conns.Range(func(k, v any) bool {
		n++
		r := v.(*connRecord)
		st := r.state.Load()
		p := phaseOf(st)
		limit := t.limit[p]
		if limit == 0 || clock-sinceOf(st) < limit+slack {
			return true
		}
		// Claim before acting: if the connection moved on meanwhile, it is
		// not at its limit and keeps going.
		if r.state.CompareAndSwap(st, packState(phaseExpired, clock)) {
			t.expire(k.(net.Conn), p, now)
		}
		return true
	})
	return n
}

// expire makes c's blocked I/O fail. fasthttp sets no deadline of its own
// (its timeouts are 0), so a past deadline stays until the connection
// closes.
func (t *connTimeouts) expire(c net.Conn, p connPhase, now time.Time) {
	if p == phaseReading {
		// Only the read fails, so that fasthttp's ErrorHandler can still
		// answer 408 (handleServerError), within write_timeout. The write
		// deadline goes first: should the read already have completed, the
		// connection still closes at its next read.
		_ = c.SetWriteDeadline(now.Add(t.writeTimeout))
		_ = c.SetReadDeadline(pastDeadline)
		return
	}
	_ = c.SetDeadline(pastDeadline)
}
