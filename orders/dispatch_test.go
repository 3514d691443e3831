package orders

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/valyala/fasthttp"
)

// testShop is a Deliverer over an in-process shop that takes `stock`
// units, remembers every Idempotency-Key's answer, and records what the
// dispatcher did to it: deliveries in flight and start times.
type testShop struct {
	mu        sync.Mutex
	stock     int
	byKey     map[string]int // key → status answered
	sold      int
	starts    []time.Time
	inFlight  atomic.Int32
	maxFlight atomic.Int32
	work      time.Duration
	failFirst bool // the first attempt of each key is lost after the shop served it
	settled   atomic.Int32
}

func (s *testShop) Deliver(j *Job, resp *fasthttp.Response, timeout time.Duration) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxFlight.Load()
		if n <= m || s.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	key := string(j.Req.Header.Peek("Idempotency-Key"))
	status, seen := s.byKey[key]
	if !seen {
		status = 409
		if s.stock > 0 {
			s.stock--
			s.sold++
			status = 200
		}
		s.byKey[key] = status
	}
	s.mu.Unlock()
	time.Sleep(s.work)
	if s.failFirst && !seen {
		return errors.New("timeout")
	}
	resp.SetStatusCode(status)
	return nil
}

func (s *testShop) SoldOut(*Job) bool { return false }

func (s *testShop) Settle(j *Job, resp *fasthttp.Response) bool {
	s.settled.Add(1)
	return resp != nil && resp.StatusCode() == 409
}

var dedupeSeq atomic.Uint64

func submitN(t *testing.T, q Queue, n int) []string {
	t.Helper()
	tickets := make([]string, n)
	for i := range tickets {
		req := &fasthttp.Request{}
		tk := NewTicket()
		req.Header.Set("Idempotency-Key", tk)
		var err error
		if tickets[i], _, _, err = q.Submit(&Job{Ticket: tk, Item: "7", Dedupe: dedupeSeq.Add(1), Req: req, Accepted: time.Now().UnixNano()}, time.Now().UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	return tickets
}

// waitDone waits (on the bubble's clock) until every ticket is finished.
func waitDone(t *testing.T, q Queue, tickets []string) map[Outcome]int {
	t.Helper()
	for {
		out := map[Outcome]int{}
		done := 0
		for _, tk := range tickets {
			if st, ok := q.Status(tk, time.Now().UnixNano()); ok && st.State == Done {
				out[st.Result.Outcome]++
				done++
			}
		}
		if done == len(tickets) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDispatcherRateAndConcurrency: 2,000 purchases delivered at 200/s
// with 4 in flight to a shop that could take 400/s. Counted at the shop:
// never more than 4 deliveries at once, never more than 200 starts in
// any second; every ticket ends exactly once.
// With 10 ms per delivery the rate binds; with 50 ms, the concurrency.
func TestDispatcherRateAndConcurrency(t *testing.T) {
	for _, work := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond} {
		t.Run(work.String(), func(t *testing.T) { testRateAndConcurrency(t, work) })
	}
}

func testRateAndConcurrency(t *testing.T, work time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		shop := &testShop{stock: 2000, byKey: map[string]int{}, work: work}
		q := NewMemory(5000, int64(time.Hour))
		ds := NewDispatcher(q, shop, Config{Interval: 5 * time.Millisecond, Concurrency: 4, Timeout: time.Second,
			Retries: 1, TTL: time.Hour}, nil, nil)
		tickets := submitN(t, q, 2000)
		start := time.Now()
		ds.Start()
		out := waitDone(t, q, tickets)
		ds.Stop()
		if got := shop.maxFlight.Load(); got > 4 || work > 40*time.Millisecond && got < 4 {
			t.Errorf("the shop saw %d deliveries at once, want at most (and with slow deliveries exactly) 4", got)
		}
		for i := range shop.starts {
			j := i
			for j < len(shop.starts) && shop.starts[j].Sub(shop.starts[i]) < time.Second {
				j++
			}
			if j-i > 200 {
				t.Fatalf("%d deliveries started within one second from %v, want at most 200", j-i, shop.starts[i].Sub(start))
			}
		}
		if shop.sold != 2000 || out[Delivered] != 2000 || int(shop.settled.Load()) != 2000 {
			t.Errorf("sold %d, outcomes %v, settled %d; want 2000 of each", shop.sold, out, shop.settled.Load())
		}
	})
}

// TestDispatcherSoldOutDrains: 2,000 purchases for 100 units: 100 sold,
// and once the shop says sold out the rest are answered at the edge.
func TestDispatcherSoldOutDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shop := &testShop{stock: 100, byKey: map[string]int{}, work: 10 * time.Millisecond}
		q := NewMemory(5000, int64(time.Hour))
		ds := NewDispatcher(q, shop, Config{Interval: 5 * time.Millisecond, Concurrency: 4, Timeout: time.Second,
			Retries: 1, TTL: time.Hour}, nil, nil)
		tickets := submitN(t, q, 2000)
		ds.Start()
		out := waitDone(t, q, tickets)
		ds.Stop()
		if shop.sold != 100 || out[Delivered]+out[SoldOut] != 2000 || int(shop.settled.Load()) != 2000 {
			t.Errorf("sold %d, outcomes %v, settled %d; want 100 sold and 2000 outcomes", shop.sold, out, shop.settled.Load())
		}
		if n := len(shop.starts); n > 100+4 {
			t.Errorf("%d deliveries reached the shop for 100 units: sold out did not drain at the edge", n)
		}
	})
}

// TestDispatcherRetrySellsOnce: a delivery whose answer is lost is
// retried with the same Idempotency-Key, and the shop that honours it
// sells once.
func TestDispatcherRetrySellsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shop := &testShop{stock: 10, byKey: map[string]int{}, failFirst: true}
		q := NewMemory(100, int64(time.Hour))
		ds := NewDispatcher(q, shop, Config{Interval: time.Millisecond, Concurrency: 2, Timeout: time.Second,
			Retries: 2, TTL: time.Hour}, nil, nil)
		tickets := submitN(t, q, 5)
		ds.Start()
		out := waitDone(t, q, tickets)
		ds.Stop()
		if out[Delivered] != 5 || shop.sold != 5 || len(shop.starts) != 10 {
			t.Fatalf("outcomes %v, sold %d, deliveries %d; want 5 delivered, 5 sold, 10 deliveries", out, shop.sold, len(shop.starts))
		}
		st, _ := q.Status(tickets[0], time.Now().UnixNano())
		if st.Result.Attempts != 2 || st.Result.Status != 200 {
			t.Fatalf("ticket: %+v, want 200 after 2 attempts", st.Result)
		}
	})
}

// TestDispatcherExpiresAndFails: a ticket older than ttl is not
// delivered; one whose every attempt is lost ends failed.
func TestDispatcherExpiresAndFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shop := &testShop{stock: 10, byKey: map[string]int{}, failFirst: true}
		q := NewMemory(100, int64(time.Hour))
		ds := NewDispatcher(q, shop, Config{Interval: time.Millisecond, Concurrency: 1, Timeout: time.Second,
			Retries: 0, TTL: time.Minute}, nil, nil)
		old := submitN(t, q, 1)
		time.Sleep(2 * time.Minute)
		fresh := submitN(t, q, 1)
		ds.Start()
		waitDone(t, q, append(old, fresh...))
		ds.Stop()
		if st, _ := q.Status(old[0], time.Now().UnixNano()); st.Result.Outcome != Expired {
			t.Errorf("old ticket: %v, want expired", st.Result.Outcome)
		}
		if st, _ := q.Status(fresh[0], time.Now().UnixNano()); st.Result.Outcome != Failed || st.Result.Attempts != 1 {
			t.Errorf("lost delivery without retries: %+v, want failed after 1 attempt", st.Result)
		}
		if len(shop.starts) != 1 {
			t.Errorf("%d deliveries, want 1 (the expired ticket is not delivered)", len(shop.starts))
		}
	})
}
