//go:build !race

package origin

import (
	"testing"
	"time"

	"flashgate/rules"
)

// TestLimiterAllocFree: taking and releasing a slot, being refused at
// once (sheddable) and being refused after a wait allocate nothing.
func TestLimiterAllocFree(t *testing.T) {
	l := NewLimiter(rules.OriginLimit{Max: 2, Adaptive: "gradient", Wait: time.Microsecond})
	if n := testing.AllocsPerRun(1000, func() {
		if l.Acquire(Critical, 1) == nil {
			l.Release(time.Millisecond, false)
		}
	}); n != 0 {
		t.Errorf("acquire and release allocate %.1f times", n)
	}
	for l.Acquire(Critical, 1) == nil {
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = l.Acquire(Sheddable, 1)
		_ = l.Acquire(Normal, 1)
	}); n != 0 {
		t.Errorf("refusals (at once and after a wait) allocate %.1f times", n)
	}
}
