package orders

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// TestInFlightAndCounts: while a slow shop holds every worker, InFlight
// is the concurrency and the rest wait in the queue; once all is
// delivered InFlight is 0 and Counts has every outcome.
func TestInFlightAndCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shop := &testShop{stock: 100, byKey: map[string]int{}, work: time.Second}
		q := NewMemory(100, int64(time.Hour))
		m := NewMetrics(metrics.NewSet(), "buy", q)
		ds := NewDispatcher(q, shop, Config{Interval: time.Millisecond, Concurrency: 3, Timeout: 5 * time.Second,
			TTL: time.Hour}, m, nil)
		tickets := submitN(t, q, 10)
		ds.Start()
		time.Sleep(100 * time.Millisecond) // every worker is in a delivery
		synctest.Wait()
		if ds.InFlight() != 3 || q.Len() != 7 {
			t.Errorf("during deliveries: InFlight %d, waiting %d; want 3 and 7", ds.InFlight(), q.Len())
		}
		waitDone(t, q, tickets)
		ds.Stop()
		if got := (Counts{Delivered: 10}); ds.InFlight() != 0 || m.Counts() != got {
			t.Errorf("after: InFlight %d, counts %+v; want 0 and %+v", ds.InFlight(), m.Counts(), got)
		}
	})
}
