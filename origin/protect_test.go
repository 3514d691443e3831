package origin

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flashgate/rules"
)

// TestLimiterPriorityShares: with the limit full to each class's share,
// sheddable requests are refused first, then normal ones; critical ones
// get the last slots.
func TestLimiterPriorityShares(t *testing.T) {
	l := NewLimiter(rules.OriginLimit{Max: 10, Wait: time.Millisecond})
	take := func(p Priority) error { return l.Acquire(p, 1) }
	for i := range 5 {
		if err := take(Sheddable); err != nil {
			t.Fatalf("sheddable %d of 5 refused: %v", i+1, err)
		}
	}
	if err := take(Sheddable); !errors.Is(err, ErrShed) {
		t.Fatalf("6th sheddable with 5 of 10 in flight: %v, want ErrShed (sheddable may fill half)", err)
	}
	for i := range 4 {
		if err := take(Normal); err != nil {
			t.Fatalf("normal %d refused at %d in flight: %v", i+1, l.InFlight(), err)
		}
	}
	if err := take(Normal); !errors.Is(err, ErrShed) {
		t.Fatalf("normal at 9 of 10: %v, want ErrShed after its wait", err)
	}
	if err := take(Critical); err != nil {
		t.Fatalf("critical at 9 of 10: %v, want the last slot", err)
	}
	if err := take(Critical); !errors.Is(err, ErrShed) {
		t.Fatalf("critical at 10 of 10: %v, want ErrShed", err)
	}
	if l.InFlight() != 10 {
		t.Fatalf("in flight %d, want 10", l.InFlight())
	}
	// Scaled by ×0.5 (a switch), sheddable may fill 2 of 10 only.
	for range 10 {
		l.Release(time.Millisecond, false)
	}
	for range 2 {
		if err := l.Acquire(Sheddable, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Acquire(Sheddable, 0.5); !errors.Is(err, ErrShed) {
		t.Errorf("sheddable scaled ×0.5 past 2 of 10: %v", err)
	}
}

// TestLimiterWaitGetsReleasedSlot: a waiting request takes a slot released
// during its wait.
func TestLimiterWaitGetsReleasedSlot(t *testing.T) {
	l := NewLimiter(rules.OriginLimit{Max: 1, Wait: time.Minute})
	if err := l.Acquire(Critical, 1); err != nil {
		t.Fatal(err)
	}
	got := make(chan error)
	go func() { got <- l.Acquire(Critical, 1) }()
	for l.waiters.Load() == 0 {
		runtime.Gosched() // until the goroutine waits
	}
	l.Release(0, false)
	if err := <-got; err != nil {
		t.Errorf("waiter: %v, want the released slot", err)
	}
}

// TestLimiterNeverExceeded: concurrent acquirers never hold more slots
// than the limit.
func TestLimiterNeverExceeded(t *testing.T) {
	l := NewLimiter(rules.OriginLimit{Max: 8, Wait: 50 * time.Microsecond})
	var cur, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for range 200 {
				if l.Acquire(Priority(g%3), 1) != nil {
					continue
				}
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				cur.Add(-1)
				l.Release(time.Millisecond, false)
			}
		})
	}
	wg.Wait()
	if peak.Load() > 8 {
		t.Errorf("peak in flight %d over the limit 8", peak.Load())
	}
}

// TestAdaptiveLimits: the gradient limit falls when latency rises and
// recovers when it returns; AIMD cuts on drops and grows on successes.
func TestAdaptiveLimits(t *testing.T) {
	g := NewLimiter(rules.OriginLimit{Max: 100, Min: 4, Adaptive: "gradient"})
	run := func(l *Limiter, n int, rtt time.Duration, dropped bool) {
		for range n {
			// Keep the limit in use, as under load: the limit only grows
			// on evidence.
			l.inflight.Store(int64(l.Limit()))
			l.Release(rtt, dropped)
		}
	}
	start := g.Limit()
	run(g, 300, 10*time.Millisecond, false)
	base := g.Limit()
	if base <= start {
		t.Errorf("gradient at steady 10ms: limit %d, want it grown from %d", base, start)
	}
	run(g, 100, 100*time.Millisecond, false)
	slow := g.Limit()
	if slow >= base/2 {
		t.Errorf("gradient after latency rose 10×: limit %d, want well under %d", slow, base)
	}
	run(g, 600, 10*time.Millisecond, false)
	if g.Limit() <= slow {
		t.Errorf("gradient after latency returned: limit %d, want above %d", g.Limit(), slow)
	}

	a := NewLimiter(rules.OriginLimit{Max: 64, Min: 2, Adaptive: "aimd"})
	run(a, 2000, time.Millisecond, false) // grow from the floor first
	before := a.Limit()
	run(a, 5, time.Millisecond, true)
	cut := a.Limit()
	if cut >= before {
		t.Errorf("aimd after 5 drops: %d, want below %d", cut, before)
	}
	run(a, 2000, time.Millisecond, false)
	if a.Limit() <= cut {
		t.Errorf("aimd after successes: %d, want above %d", a.Limit(), cut)
	}
	run(a, 200, time.Millisecond, true)
	if a.Limit() != 2 {
		t.Errorf("aimd after many drops: %d, want the floor 2", a.Limit())
	}
}

// TestBreakerOpensProbesCloses walks the breaker through its states with
// an injected clock.
func TestBreakerOpensProbesCloses(t *testing.T) {
	var changes []int32
	b := newBreaker(rules.Breaker{Failures: 3, Open: 10 * time.Second, Probes: 2}, func(_, to int32) { changes = append(changes, to) })
	t0 := time.Unix(1_800_000_000, 0)
	fail := func(at time.Time) {
		tk := b.allow(at)
		if tk == refused {
			t.Fatalf("refused at %v in state %s", at.Sub(t0), b.stateName())
		}
		b.done(tk, false, at)
	}
	fail(t0)
	fail(t0)
	b.done(b.allow(t0), true, t0) // a success resets the count
	fail(t0)
	fail(t0)
	if b.stateName() != BreakerClosed {
		t.Fatalf("after 2 consecutive failures: %s, want closed", b.stateName())
	}
	fail(t0)
	if b.stateName() != BreakerOpen || b.allow(t0.Add(9*time.Second)) != refused {
		t.Fatalf("after 3 consecutive failures: %s, want open and refusing", b.stateName())
	}
	// Half-open: two probes, a third request refused meanwhile.
	at := t0.Add(10 * time.Second)
	p1, p2 := b.allow(at), b.allow(at)
	if p1 != probe || p2 != probe || b.allow(at) != refused {
		t.Fatalf("half-open: tickets %v %v, want two probes then refusal", p1, p2)
	}
	b.done(p1, true, at)
	b.done(p2, false, at) // one failed probe: open again
	if b.stateName() != BreakerOpen {
		t.Fatalf("after a failed probe: %s, want open", b.stateName())
	}
	at = at.Add(10 * time.Second)
	p1, p2 = b.allow(at), b.allow(at)
	b.done(p1, true, at)
	b.done(p2, true, at)
	if b.stateName() != BreakerClosed || b.allow(at) != admitted {
		t.Fatalf("after two good probes: %s, want closed", b.stateName())
	}
	want := []int32{stOpen, stHalfOpen, stOpen, stHalfOpen, stClosed}
	if len(changes) != len(want) {
		t.Fatalf("state changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("state changes %v, want %v", changes, want)
		}
	}
}
