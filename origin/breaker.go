package origin

import (
	"sync"
	"sync/atomic"
	"time"

	"flashgate/rules"
)

// Breaker states, as reported in ServerStatus.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

const (
	stClosed int32 = iota
	stOpen
	stHalfOpen
)

// breaker is one server's circuit breaker: Failures consecutive failures
// open it; after Open it lets Probes requests through (half-open), and
// closes when they all succeed or opens again at the first failure.
//
// Our own rather than sony/gobreaker/v2: gobreaker's two-step API returns
// a closure per request (an allocation on the origin path) and reads
// time.Now itself, where this one takes the clock as an argument (tests
// drive it) and costs one atomic load on the closed path.
type breaker struct {
	spec     rules.Breaker
	state    atomic.Int32
	failures atomic.Int32 // consecutive, while closed

	mu       sync.Mutex
	openedAt time.Time
	probes   int // admitted while half-open
	passed   int // succeeded while half-open
	onChange func(from, to int32)
}

// ticket says how a request was admitted, for done.
type ticket uint8

const (
	refused ticket = iota
	admitted
	probe
)

func newBreaker(spec rules.Breaker, onChange func(from, to int32)) *breaker {
	if spec.Failures <= 0 {
		return nil
	}
	spec.Probes = max(1, spec.Probes)
	return &breaker{spec: spec, onChange: onChange}
}

// allow reports whether a request may go to the server now.
func (b *breaker) allow(now time.Time) ticket {
	if b == nil || b.state.Load() == stClosed {
		return admitted
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case stClosed:
		return admitted
	case stOpen:
		if now.Sub(b.openedAt) < b.spec.Open {
			return refused
		}
		b.set(stHalfOpen)
		b.probes, b.passed = 0, 0
	}
	if b.probes >= b.spec.Probes {
		return refused
	}
	b.probes++
	return probe
}

// peek is allow without taking a probe slot: could a request go now?
func (b *breaker) peek(now time.Time) bool {
	if b == nil || b.state.Load() == stClosed {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case stOpen:
		return now.Sub(b.openedAt) >= b.spec.Open
	case stHalfOpen:
		return b.probes < b.spec.Probes
	}
	return true
}

// done records the outcome of a request admitted with t.
func (b *breaker) done(t ticket, ok bool, now time.Time) {
	if b == nil || t == refused {
		return
	}
	if t == admitted {
		if ok {
			if b.failures.Load() != 0 {
				b.failures.Store(0)
			}
			return
		}
		if b.failures.Add(1) < int32(b.spec.Failures) {
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case t == admitted && b.state.Load() == stClosed: // the failure that trips it
		b.open(now)
	case t == probe && b.state.Load() == stHalfOpen && !ok:
		b.open(now)
	case t == probe && b.state.Load() == stHalfOpen:
		if b.passed++; b.passed >= b.spec.Probes {
			b.failures.Store(0)
			b.set(stClosed)
		}
	}
}

func (b *breaker) open(now time.Time) {
	b.openedAt = now
	b.set(stOpen)
}

func (b *breaker) set(to int32) {
	from := b.state.Swap(to)
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}

func (b *breaker) stateName() string {
	if b == nil {
		return ""
	}
	return [...]string{BreakerClosed, BreakerOpen, BreakerHalfOpen}[b.state.Load()]
}
