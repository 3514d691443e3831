package cluster

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// benchAllow measures one global key checked by every goroutine: exact
// (a Lua call per request) or leased (a Redis call per lease, in the
// background). The limit is far away, so every call is admitted.
func benchAllow(b *testing.B, lease int) {
	srv := fgtest.StartRedis(b)
	mem, _ := NewMemory(MemoryOptions{Keys: 1024, Flags: 1024})
	r, err := NewRedis(RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second, Fallback: mem, Lease: lease})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	s := r.View(Closed)
	l := Limit{Rate: 100_000_000, Per: time.Second, Burst: 1_000_000}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, _ := s.Allow(1, time.Now().UnixNano(), l.Emission(), l.Tolerance(), 1); !ok {
				b.Fatal("refused far below the limit")
			}
		}
	})
}

func BenchmarkRedisAllowExact(b *testing.B)  { benchAllow(b, 0) }
func BenchmarkRedisAllowLeased(b *testing.B) { benchAllow(b, 100) }

// BenchmarkRedisLimitAccuracy runs three instances (three clients) on one
// global limit of 1000/s, burst 100, each hammered by 4 goroutines for
// FG_ACCURACY_SECONDS (default 10), exact and leased (lease 50), and
// reports admitted ÷ (rate × seconds + burst): 1.0 is exact, above it the
// overshoot. Run with -benchtime=1x.
func BenchmarkRedisLimitAccuracy(b *testing.B) {
	secs := 10
	if s, err := strconv.Atoi(os.Getenv("FG_ACCURACY_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	for _, lease := range []int{0, 50} {
		b.Run("lease="+strconv.Itoa(lease), func(b *testing.B) {
			srv := fgtest.StartRedis(b)
			var views []*RedisView
			var stores []*Redis
			for range 3 {
				mem, _ := NewMemory(MemoryOptions{Keys: 1024, Flags: 1024})
				r, err := NewRedis(RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second, Fallback: mem, Lease: lease})
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				views = append(views, r.View(Closed))
				stores = append(stores, r)
			}
			// The burst is 100 in both modes: a lease never exceeds it.
			l := Limit{Rate: 1000, Per: time.Second, Burst: 100}
			var admitted, calls atomic.Int64
			end := time.Now().Add(time.Duration(secs) * time.Second)
			var wg sync.WaitGroup
			for _, v := range views {
				for range 4 {
					wg.Go(func() {
						for time.Now().Before(end) {
							calls.Add(1)
							if ok, _, _ := v.Allow(7, time.Now().UnixNano(), l.Emission(), l.Tolerance(), 1); ok {
								admitted.Add(1)
							}
						}
					})
				}
			}
			wg.Wait()
			limit := float64(l.Rate*secs + l.Burst)
			b.ReportMetric(float64(admitted.Load())/limit, "admitted/limit")
			b.ReportMetric(float64(calls.Load())/float64(secs), "checks/s")
			var failed uint64
			for _, r := range stores {
				failed += r.m.errors.Get()
			}
			b.ReportMetric(float64(failed), "redis-errors")
		})
	}
}
