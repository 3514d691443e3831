package origin

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"flashgate/rules"
)

// ErrShed means the request was refused to protect the origin: its
// concurrency limit (for the request's priority) stayed full for the
// whole bounded wait.
var ErrShed = errors.New("origin concurrency limit reached")

// Limiter bounds the requests in flight to an origin (or a bulkhead: a
// route's or the hot set's own share). The limit is static, or adaptive:
//
//   - gradient (after Netflix's Gradient2): the limit follows the ratio of
//     the origin's unloaded latency (the lowest seen, slowly drifting up)
//     to the recent one, with a tolerance of 1.2×, so it shrinks as soon as
//     the origin queues and grows back, by a queue allowance of √limit,
//     while latency stays near its baseline;
//   - aimd: +1 per limit's worth of successes, ×0.9 on a timeout or a
//     refusal.
//
// Acquire is one atomic compare-and-swap when a slot is free; a full
// limiter makes the request wait at most Wait (sheddable ones not at all)
// and then refuses it with ErrShed. Safe for concurrent use.
type Limiter struct {
	spec     rules.OriginLimit
	limit    atomic.Int64 // current limit, ≥ 1
	inflight atomic.Int64
	waiters  atomic.Int64
	wake     chan struct{} // a release hands its slot's chance to one waiter

	mu        sync.Mutex // adaptive state
	adaptive  uint8
	est       float64 // the limit as a float (adaptive)
	shortRTT  float64 // EWMA of recent latencies, seconds
	baseRTT   float64 // the origin's unloaded latency: the lowest seen, drifting up slowly
	successes int
}

// timers are the waits' timers, reused: under overload every request
// that finds the limit full waits, and a timer each would be garbage on
// the path that most needs to stay cheap.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

const (
	adaptStatic = iota
	adaptGradient
	adaptAIMD
)

// NewLimiter returns a limiter for spec, or nil when spec sets no limit
// (a nil *Limiter admits everything).
func NewLimiter(spec rules.OriginLimit) *Limiter {
	if spec.Max <= 0 {
		return nil
	}
	l := &Limiter{spec: spec, wake: make(chan struct{})}
	l.spec.Min = max(1, min(spec.Min, spec.Max))
	switch spec.Adaptive {
	case "gradient":
		l.adaptive = adaptGradient
	case "aimd":
		l.adaptive = adaptAIMD
	}
	start := spec.Max
	if l.adaptive != adaptStatic {
		// Start at the floor and grow on evidence: a limit that starts
		// high lets a flood saturate the origin before the first answers,
		// and the gradient would then take the queueing delay for the
		// origin's own latency.
		start = l.spec.Min
	}
	l.est = float64(start)
	l.limit.Store(int64(start))
	return l
}

// Limit returns the current limit (0 for a nil limiter: none).
func (l *Limiter) Limit() int {
	if l == nil {
		return 0
	}
	return int(l.limit.Load())
}

// InFlight returns the requests holding a slot.
func (l *Limiter) InFlight() int64 {
	if l == nil {
		return 0
	}
	return l.inflight.Load()
}

// ceiling is the number of slots class p may fill under limit n, scaled
// by f (a Plan B switch's ×0.5; 1 normally).
func ceiling(n int64, p Priority, f float64) int64 {
	return max(1, int64(math.Floor(float64(n)*share[p]*f)))
}

// Acquire takes a slot for a request of priority p, waiting at most the
// limiter's Wait (none for sheddable requests). scale multiplies the
// limit (1 normally). It returns ErrShed when no slot was free in time;
// after a nil error, Release must follow.
func (l *Limiter) Acquire(p Priority, scale float64) error {
	if l == nil {
		return nil
	}
	if l.tryAcquire(p, scale) {
		return nil
	}
	if !waits[p] || l.spec.Wait <= 0 {
		return ErrShed
	}
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	t := timers.Get().(*time.Timer)
	t.Reset(l.spec.Wait)
	defer func() {
		t.Stop() // since Go 1.23 a stopped timer's channel is drained: safe to reuse
		timers.Put(t)
	}()
	for {
		select {
		case <-l.wake:
			if l.tryAcquire(p, scale) {
				return nil
			}
		case <-t.C:
			if l.tryAcquire(p, scale) {
				return nil
			}
			return ErrShed
		}
	}
}

func (l *Limiter) tryAcquire(p Priority, scale float64) bool {
	c := ceiling(l.limit.Load(), p, scale)
	for {
		n := l.inflight.Load()
		if n >= c {
			return false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release frees a slot taken by Acquire. rtt is the origin call's
// duration; dropped says it failed in a way that means overload
// (timeout, refused connection, no free connection), which an adaptive
// limit answers by shrinking.
func (l *Limiter) Release(rtt time.Duration, dropped bool) {
	if l == nil {
		return
	}
	n := l.inflight.Add(-1)
	if l.adaptive != adaptStatic {
		l.adapt(rtt, dropped, n+1)
	}
	if l.waiters.Load() > 0 {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// adapt updates an adaptive limit with one sample; inflight is how many
// requests were in flight when this one ended.
func (l *Limiter) adapt(rtt time.Duration, dropped bool, inflight int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lo, hi := float64(l.spec.Min), float64(l.spec.Max)
	switch l.adaptive {
	case adaptAIMD:
		if dropped {
			l.est = math.Max(lo, l.est*0.9)
		} else if float64(inflight)*2 >= l.est { // only grow when the limit is in use
			l.successes++
			if float64(l.successes) >= l.est {
				l.successes = 0
				l.est = math.Min(hi, l.est+1)
			}
		}
	case adaptGradient:
		s := rtt.Seconds()
		if dropped {
			s = math.Max(s, 2*l.shortRTT) // a drop counts as a slow answer
		}
		if l.shortRTT == 0 {
			l.shortRTT, l.baseRTT = s, s
		}
		l.shortRTT += (s - l.shortRTT) * 0.1
		// The baseline is the lowest latency seen, drifting up by 0.001%
		// a sample so that an origin that became slower for good (a
		// heavier page) is followed. An average as Gradient2's long-term
		// RTT would follow the queueing delay itself, and the limit would
		// creep to its ceiling while the origin is saturated.
		l.baseRTT = math.Min(l.baseRTT*1.00001, s)
		gradient := math.Max(0.5, math.Min(1, 1.2*l.baseRTT/l.shortRTT))
		next := l.est*gradient + math.Sqrt(l.est)
		if float64(inflight)*2 < l.est { // app-limited: no evidence to grow on
			next = math.Min(next, l.est)
		}
		l.est = math.Max(lo, math.Min(hi, l.est*0.8+next*0.2))
	}
	l.limit.Store(int64(l.est))
}
