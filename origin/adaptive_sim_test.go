package origin

import (
	"testing"
	"time"

	"flashgate/rules"
)

// TestAdaptiveSettlesNearCapacity drives each adaptive limit against a
// simulated origin of capacity 16 whose latency grows with the queue
// beyond it (20 ms × in flight / 16 once saturated), always kept busy: the
// limit must settle near the capacity, neither at its floor nor at its
// ceiling of 200.
func TestAdaptiveSettlesNearCapacity(t *testing.T) {
	const capacity = 16
	for _, mode := range []string{"gradient", "aimd"} {
		l := NewLimiter(rules.OriginLimit{Max: 200, Min: 2, Adaptive: mode})
		var seen []int
		for i := range 20000 {
			n := l.Limit()
			rtt := 20 * time.Millisecond
			if n > capacity {
				rtt = rtt * time.Duration(n) / capacity
			}
			// AIMD sees a drop when the origin's own queue times out (3× base).
			l.inflight.Store(int64(n))
			l.Release(rtt, mode == "aimd" && rtt > 60*time.Millisecond)
			if i >= 15000 {
				seen = append(seen, l.Limit())
			}
		}
		lo, hi := seen[0], seen[0]
		for _, v := range seen {
			lo, hi = min(lo, v), max(hi, v)
		}
		t.Logf("%s: limit settles in [%d, %d] for capacity %d", mode, lo, hi, capacity)
		if lo < capacity/2 || hi > capacity*4 {
			t.Errorf("%s: limit in [%d, %d], want within [%d, %d] of capacity %d", mode, lo, hi, capacity/2, capacity*4, capacity)
		}
	}
}
