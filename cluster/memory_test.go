package cluster

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)
const sec = int64(time.Second)

func newTestMemory(t testing.TB, keys, flags int) *Memory {
	t.Helper()
	m, err := NewMemory(MemoryOptions{Keys: keys, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewMemoryErrors(t *testing.T) {
	for _, tt := range []struct {
		opts MemoryOptions
		msg  string
	}{
		{MemoryOptions{Keys: 10, Flags: 4096}, "Keys=10: cluster: capacity below 1024"},
		{MemoryOptions{Keys: 4096}, "Flags=0: cluster: capacity below 1024"},
	} {
		_, err := NewMemory(tt.opts)
		if err == nil || err.Error() != tt.msg || !errors.Is(err, ErrTooSmall) {
			t.Errorf("NewMemory(%+v) = %v, want %q", tt.opts, err, tt.msg)
		}
	}
}

func TestAllowBurstThenRate(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	l := Limit{Rate: 10, Per: time.Second, Burst: 3} // one cell per 100ms
	now := int64(1_000_000 * sec)
	steps := []struct {
		at   int64 // ms after start
		ok   bool
		wait int64 // ms
	}{
		{0, true, 0}, {0, true, 0}, {0, true, 0}, // the burst
		{0, false, 100},                                // fourth at once: wait one emission
		{50, false, 50},                                // still waiting
		{100, true, 0},                                 // one cell refilled
		{100, false, 100},                              // and only one
		{450, true, 0}, {450, true, 0}, {450, true, 0}, // idle long enough for a full burst again
		{450, false, 100},
	}
	for i, st := range steps {
		ok, wait, _ := m.Allow(7, now+st.at*ms, l.Emission(), l.Tolerance(), 1)
		if ok != st.ok || wait != st.wait*ms {
			t.Fatalf("step %d at %dms: Allow = %v, wait %v; want %v, wait %dms", i, st.at, ok, time.Duration(wait), st.ok, st.wait)
		}
	}
	if ok, _, _ := m.Allow(8, now, l.Emission(), l.Tolerance(), 3); !ok {
		t.Fatal("n=3 within a fresh burst of 3 refused")
	}
	if ok, wait, _ := m.Allow(9, now, l.Emission(), l.Tolerance(), 4); ok || wait != 100*ms {
		t.Fatalf("n=4 above the burst: ok=%v wait=%v", ok, time.Duration(wait))
	}
}

// TestAllowExactUnderConcurrency drives one key from several goroutines
// with a simulated clock that every call advances, so the key is under
// constant pressure, and checks every one-second span of admissions.
func TestAllowExactUnderConcurrency(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	l := Limit{Rate: 1000, Per: time.Second, Burst: 50}
	const (
		workers  = 8
		step     = 20 * int64(time.Microsecond) // simulated time per call
		duration = 5 * sec
	)
	var clock atomic.Int64
	start := int64(500 * sec)
	clock.Store(start)
	admitted := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				now := clock.Add(step)
				if now > start+duration {
					return
				}
				if ok, _, _ := m.Allow(42, now, l.Emission(), l.Tolerance(), 1); ok {
					admitted[w] = append(admitted[w], now)
				}
			}
		})
	}
	wg.Wait()
	var all []int64
	for _, a := range admitted {
		all = append(all, a...)
	}
	slices.Sort(all)
	// No span [t, t+1s) holds more than rate+burst admissions.
	j := 0
	for i := range all {
		for all[i]-all[j] >= sec {
			j++
		}
		if n := i - j + 1; n > l.Rate+l.Burst {
			t.Fatalf("%d admitted in the second ending at %v, limit %d", n, time.Duration(all[i]-start), l.Rate+l.Burst)
		}
	}
	// Under pressure every full second admits at least 98% of the rate.
	for s := int64(1); s < duration/sec; s++ {
		n := countIn(all, start+s*sec, start+(s+1)*sec)
		if float64(n) < 0.98*float64(l.Rate) {
			t.Fatalf("second %d admitted %d, want >= 98%% of %d", s, n, l.Rate)
		}
	}
}

func countIn(a []int64, from, to int64) int {
	n := 0
	for _, v := range a {
		if v >= from && v < to {
			n++
		}
	}
	return n
}

func TestAddGetForget(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	if got := m.Add(1, 1, 10*sec, now); got != 1 {
		t.Fatalf("first Add = %d", got)
	}
	if got := m.Add(1, 2, 10*sec, now+9*sec); got != 3 {
		t.Fatalf("second Add = %d", got)
	}
	if got := m.Get(1, now+9*sec); got != 3 {
		t.Fatalf("Get = %d", got)
	}
	if got := m.Get(1, now+10*sec); got != 0 {
		t.Fatalf("Get after the fixed window = %d, want 0", got)
	}
	if got := m.Add(1, 1, 10*sec, now+10*sec); got != 1 {
		t.Fatalf("Add after expiry = %d, want a fresh 1", got)
	}
	m.Forget(1)
	if got := m.Get(1, now+10*sec); got != 0 {
		t.Fatalf("Get after Forget = %d", got)
	}
}

func TestSpendOnce(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	if !m.SpendOnce(5, now+sec, now) {
		t.Fatal("first spend refused")
	}
	if m.SpendOnce(5, now+sec, now+sec/2) {
		t.Fatal("second spend accepted")
	}
	if got := m.Get(5, now); got != 1 {
		t.Fatalf("Get of a spent flag = %d, want 1", got)
	}
	if m.SpendOnce(6, now, now) {
		t.Fatal("spend of an already expired token accepted")
	}
	m.Forget(5)
	if !m.SpendOnce(5, now+sec, now) {
		t.Fatal("spend after Forget refused")
	}
}

func TestSpendOnceConcurrent(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	for round := range 50 {
		key := rand.Uint64()
		var won atomic.Int32
		var ready, wg sync.WaitGroup
		gate := make(chan struct{})
		for range 64 {
			ready.Add(1)
			wg.Go(func() {
				ready.Done()
				<-gate
				if m.SpendOnce(key, now+sec, now) {
					won.Add(1)
				}
			})
		}
		ready.Wait()
		close(gate)
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d of 64 concurrent spends succeeded, want exactly 1", round, n)
		}
	}
}

// TestSprayKeepsReturningClients establishes 400 clients in a 1024-key
// table, then interleaves their requests with 20 times as many one-off
// random keys: the clients' counters must never be lost.
func TestSprayKeepsReturningClients(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	const clients, rounds, sprayPerRound = 400, 50, 8000
	rng := rand.New(rand.NewPCG(1, 2))
	for r := 1; r <= rounds; r++ {
		for c := range clients {
			m.Add(uint64(c)+1, 1, 3600*sec, now)
		}
		if r > 2 { // the spray starts once the clients have been seen twice
			for range sprayPerRound {
				m.Add(rng.Uint64(), 1, 3600*sec, now)
			}
		}
		now += ms
	}
	lost := 0
	for c := range clients {
		if got := m.Get(uint64(c)+1, now); got != rounds {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d returning clients lost their counters to a key spray", lost, clients)
	}
	cells, _ := m.Evictions()
	if cells == 0 {
		t.Fatal("a spray into a full table evicted nothing: the one-off keys were never stored")
	}
}

// TestSprayCannotLiftALimit runs a spray of one-off GCRA cells at 200 000
// keys per second through a 16384-key table while new clients arrive and
// hammer the gateway: every client must still be held to its burst.
func TestSprayCannotLiftALimit(t *testing.T) {
	m := newTestMemory(t, 16384, 1024)
	l := Limit{Rate: 10, Per: time.Second, Burst: 3}
	now := int64(100 * sec)
	rng := rand.New(rand.NewPCG(3, 4))
	for c := uint64(1); c <= 200; c++ {
		admitted := 0
		for range 10 { // ten requests from the client within 10ms, each after 100 sprayed keys
			for range 100 {
				m.Allow(rng.Uint64()|1<<63, now, l.Emission(), l.Tolerance(), 1)
			}
			if ok, _, _ := m.Allow(c, now, l.Emission(), l.Tolerance(), 1); ok {
				admitted++
			}
			now += int64(time.Millisecond / 2)
		}
		if admitted > l.Burst {
			t.Fatalf("client %d: %d of 10 admitted during a spray, burst is %d", c, admitted, l.Burst)
		}
	}
}

func TestFlagsEvictNearestExpiry(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	// Fill far beyond capacity: the table stays bounded and counts evictions.
	for i := range 10_000 {
		m.SpendOnce(uint64(i)+1, now+int64(i+1)*ms, now)
	}
	_, flags := m.Evictions()
	if flags < 10_000-1024 {
		t.Fatalf("%d flag evictions for 10000 flags in 1024 slots", flags)
	}
	// The latest (longest-lived) flags survive.
	if m.SpendOnce(10_000, now+sec, now) {
		t.Fatal("the newest flag was evicted")
	}
}
