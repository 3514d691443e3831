//go:build !race

package cluster

import (
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// The paths that keep Redis off the request allocate nothing: a cell from
// this instance's lease, and a set flag read from the local cache.
func TestRedisLocalPathsAllocNothing(t *testing.T) {
	srv := fgtest.StartRedis(t)
	r := newTestRedis(t, srv.Addr, 1000)
	v := r.View(Closed)
	l := Limit{Rate: 1_000_000_000, Per: time.Second, Burst: 1_000_000}
	now := time.Now().UnixNano()
	v.Allow(1, now, l.Emission(), l.Tolerance(), 1) // takes the first lease
	if n := testing.AllocsPerRun(400, func() {
		if ok, _, _ := v.Allow(1, now, l.Emission(), l.Tolerance(), 1); !ok {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("leased Allow: %v allocs, want 0", n)
	}
	v.SetFlag(2, int64(time.Hour), now)
	if n := testing.AllocsPerRun(1000, func() {
		if !v.Flag(2, now) {
			t.Fatal("flag not set")
		}
	}); n != 0 {
		t.Errorf("cached Flag: %v allocs, want 0", n)
	}
}
