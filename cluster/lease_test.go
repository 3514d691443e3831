package cluster

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// Every cell Redis grants in a lease is spent on this instance: none
// vanishes when requests find the lease empty at once (the first batch,
// a refill landing while others check the lease's expiry). Many
// goroutines on three instances spend a burst of 300 per key; once the
// refills settle and what is in hand is drained, exactly 300 were
// admitted. The timeout is generous: a call that times out after Redis
// granted its cells loses them by design, which is not this test.
func TestLeaseCellsAreNeverLost(t *testing.T) {
	srv := fgtest.StartRedis(t)
	var views []*RedisView
	for range 3 {
		mem, err := NewMemory(MemoryOptions{Keys: 1024, Flags: 1024})
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRedis(RedisOptions{Addrs: []string{srv.Addr}, Timeout: 10 * time.Second, Fallback: mem, Lease: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		views = append(views, r.View(Closed))
	}
	l := Limit{Rate: 1, Per: time.Hour, Burst: 300}
	for key := uint64(100); key < 300; key++ {
		now := time.Now().UnixNano()
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for g := range 48 {
			v := views[g%len(views)]
			wg.Go(func() {
				for range 20 {
					if ok, _, _ := v.Allow(key, now, l.Emission(), l.Tolerance(), 1); ok {
						admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		for _, v := range views {
			eventually(t, "refills settle", func() bool { return !v.r.leases.get(key, now).refilling.Load() })
			for {
				ok, _, _ := v.Allow(key, now, l.Emission(), l.Tolerance(), 1)
				if !ok {
					break
				}
				admitted.Add(1)
			}
		}
		if n := admitted.Load(); n != 300 {
			t.Fatalf("key %d: %d admitted in all, want every one of the 300 cells granted", key, n)
		}
	}
}
