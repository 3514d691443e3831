package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// newTestRedis returns a Redis store on srv with test-sized timeouts.
func newTestRedis(t *testing.T, addr string, lease int) *Redis {
	t.Helper()
	mem, err := NewMemory(MemoryOptions{Keys: 1024, Flags: 1024})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRedis(RedisOptions{Addrs: []string{addr}, Timeout: 50 * time.Millisecond, BreakerFailures: 3,
		BreakerOpen: 50 * time.Millisecond, Fallback: mem, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// eventually polls cond for up to 10s: for effects that cross a process
// boundary (pub/sub, a probe), which no fake clock reaches.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRedisStoreMatchesMemory(t *testing.T) {
	srv := fgtest.StartRedis(t)
	s := newTestRedis(t, srv.Addr, 0).View(Closed)
	now := time.Now().UnixNano()
	l := Limit{Rate: 1, Per: time.Hour, Burst: 3}
	for i := range 3 {
		if ok, _, _ := s.Allow(1, now, l.Emission(), l.Tolerance(), 1); !ok {
			t.Fatalf("cell %d of the burst refused", i+1)
		}
	}
	ok, wait, tracked := s.Allow(1, now, l.Emission(), l.Tolerance(), 1)
	if ok || !tracked || wait < int64(59*time.Minute) || wait > int64(time.Hour) {
		t.Fatalf("4th cell: ok=%v wait=%v tracked=%v; want refused for about an hour", ok, time.Duration(wait), tracked)
	}
	if v, tr := s.AddTracked(2, 5, int64(time.Minute), now); v != 5 || !tr {
		t.Fatalf("AddTracked = %d %v", v, tr)
	}
	if v := s.Add(2, -2, int64(time.Minute), now); v != 3 || s.Get(2, now) != 3 {
		t.Fatalf("Add = %d, Get = %d; want 3", v, s.Get(2, now))
	}
	s.Forget(2)
	if s.Get(2, now) != 0 {
		t.Fatal("Forget left the counter")
	}
	if !s.SpendOnce(3, now+int64(time.Minute), now) || s.SpendOnce(3, now+int64(time.Minute), now) {
		t.Fatal("SpendOnce: want true then false")
	}
	if first, _ := s.SetFlag(4, int64(time.Minute), now); !first || !s.Flag(4, now) {
		t.Fatal("SetFlag then Flag")
	}
	if first, _ := s.SetFlag(4, int64(time.Minute), now); first {
		t.Fatal("second SetFlag reported first")
	}
}

// Exactly one of many concurrent spends over three instances wins.
func TestRedisSpendOnceRacesAcrossInstances(t *testing.T) {
	srv := fgtest.StartRedis(t)
	views := []*RedisView{newTestRedis(t, srv.Addr, 0).View(Closed), newTestRedis(t, srv.Addr, 0).View(Closed),
		newTestRedis(t, srv.Addr, 0).View(Closed)}
	now := time.Now().UnixNano()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if views[i%3].SpendOnce(42, now+int64(time.Minute), now) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d spends won, want 1", wins.Load())
	}
}

// A flag set on A reaches B's cache by pub/sub, and Forget on B clears A's.
func TestRedisFlagAnnounced(t *testing.T) {
	srv := fgtest.StartRedis(t)
	a, b := newTestRedis(t, srv.Addr, 0), newTestRedis(t, srv.Addr, 0)
	waitSubscribed(t, a, b)
	now := time.Now().UnixNano()
	a.View(Closed).SetFlag(7, int64(time.Minute), now)
	eventually(t, "B caches A's flag", func() bool { return b.flags.has(7, time.Now().UnixNano()) })
	b.View(Closed).Forget(7)
	eventually(t, "A forgets B's forgotten flag", func() bool { return !a.flags.has(7, time.Now().UnixNano()) })
	if a.View(Closed).Flag(7, now) {
		t.Fatal("flag still set after Forget")
	}
}

// waitSubscribed waits until each store's listener has subscribed, by
// sending a bus message each must receive.
func waitSubscribed(t *testing.T, stores ...*Redis) {
	t.Helper()
	var got atomic.Int32
	for _, s := range stores {
		s.Subscribe("ready", func([]byte) { got.Add(1) })
	}
	probe := newTestRedis(t, stores[0].opts.Addrs[0], 0)
	eventually(t, "subscriptions", func() bool {
		got.Store(0)
		_ = probe.Publish(context.Background(), "ready", nil)
		time.Sleep(20 * time.Millisecond)
		return int(got.Load()) == len(stores)
	})
}

func TestRedisBusSkipsSender(t *testing.T) {
	srv := fgtest.StartRedis(t)
	a, b := newTestRedis(t, srv.Addr, 0), newTestRedis(t, srv.Addr, 0)
	waitSubscribed(t, a, b)
	var onA, onB atomic.Value
	a.Subscribe("purge", func(p []byte) { onA.Store(string(p)) })
	b.Subscribe("purge", func(p []byte) { onB.Store(string(p)) })
	if err := a.Publish(context.Background(), "purge", []byte("item:7")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B receives", func() bool { return onB.Load() == "item:7" })
	if onA.Load() != nil {
		t.Fatal("the sender received its own message")
	}
}

// Redis killed: calls fail fast, the breaker opens after BreakerFailures,
// each policy answers as documented, and the store recovers by itself.
func TestRedisDownPoliciesAndRecovery(t *testing.T) {
	srv := fgtest.StartRedis(t)
	r := newTestRedis(t, srv.Addr, 0)
	now := time.Now().UnixNano()
	l := Limit{Rate: 1, Per: time.Hour, Burst: 1}
	if !r.View(Closed).SpendOnce(9, now+int64(time.Minute), now) {
		t.Fatal("spend before the outage")
	}
	srv.Kill()
	for range 3 {
		r.View(Closed).Get(1, now)
	}
	if r.Up() {
		t.Fatal("breaker still closed after 3 failed calls")
	}
	if r.Status().State != "down" {
		t.Fatalf("status %+v", r.Status())
	}
	local, open, closed := r.View(Local), r.View(Open), r.View(Closed)
	if ok, _, _ := closed.Allow(5, now, l.Emission(), l.Tolerance(), 1); ok {
		t.Error("closed admitted a rate-limited request")
	}
	if ok, _, _ := open.Allow(5, now, l.Emission(), l.Tolerance(), 1); !ok {
		t.Error("open refused")
	}
	if ok, _, _ := local.Allow(5, now, l.Emission(), l.Tolerance(), 1); !ok {
		t.Error("local refused the first request")
	}
	if ok, _, _ := local.Allow(5, now, l.Emission(), l.Tolerance(), 1); ok {
		t.Error("local admitted past the local limit")
	}
	if _, tracked := local.AddTracked(6, 1, int64(time.Minute), now); tracked {
		t.Error("local kept a count a limit depends on without Redis")
	}
	if _, tracked := closed.AddTracked(6, 1, int64(time.Minute), now); tracked {
		t.Error("closed kept a count without Redis")
	}
	if _, tracked := open.AddTracked(6, 1, int64(time.Minute), now); !tracked || r.m.unenforced.Get() != 1 {
		t.Error("open did not admit, or did not count the unenforced count")
	}
	if closed.SpendOnce(10, now+int64(time.Minute), now) || !open.SpendOnce(10, now+int64(time.Minute), now) {
		t.Error("spends: closed must refuse, open admit")
	}
	srv.Restart()
	eventually(t, "recovery", r.Up)
	if ok, _, _ := closed.Allow(5, now, l.Emission(), l.Tolerance(), 1); !ok {
		t.Error("after recovery the (empty) Redis refused")
	}
}

// A Redis that stops answering costs a call its timeout, no more.
func TestRedisSlowCallBoundedByTimeout(t *testing.T) {
	srv := fgtest.StartRedis(t)
	r := newTestRedis(t, srv.Addr, 0)
	s := r.View(Open)
	now := time.Now().UnixNano()
	s.Get(1, now) // a pooled connection
	go func() { _, _ = srv.Do("DEBUG", "SLEEP", "2") }()
	time.Sleep(50 * time.Millisecond)
	var worst time.Duration
	for range 10 {
		start := time.Now()
		s.AddTracked(1, 1, int64(time.Minute), now)
		worst = max(worst, time.Since(start))
	}
	// 50ms timeout; 4× for a shared CI machine's scheduling, far below
	// the 2s the server sleeps.
	if worst > 200*time.Millisecond {
		t.Fatalf("a call waited %v on a sleeping Redis; timeout is 50ms", worst)
	}
	if r.Up() {
		t.Fatal("breaker closed while Redis sleeps")
	}
}

// Leased cells never let one instance exceed what Redis granted.
func TestRedisLeaseStaysWithinGrants(t *testing.T) {
	srv := fgtest.StartRedis(t)
	s := newTestRedis(t, srv.Addr, 10).View(Closed)
	now := time.Now().UnixNano()
	l := Limit{Rate: 1, Per: time.Hour, Burst: 25}
	admitted := 0
	for range 100 {
		if ok, _, _ := s.Allow(11, now, l.Emission(), l.Tolerance(), 1); ok {
			admitted++
		}
	}
	eventually(t, "refills settle", func() bool { return !s.r.leases.get(11, now).refilling.Load() })
	if admitted > 25 || admitted < 15 {
		t.Fatalf("admitted %d of a burst of 25 (leases of 10)", admitted)
	}
}

// A full lease table makes room by dropping lapsed leases.
func TestLeaseTableEvictsLapsed(t *testing.T) {
	l := newLeases(10)
	now := int64(1_000_000)
	for k := uint64(0); k < maxLeaseKeys*2; k++ {
		l.get(k, now) // new leases hold nothing: lapsed at once
	}
	if l.get(1<<62, now) == nil {
		t.Fatal("a full table of lapsed leases refused a new key")
	}
	total := 0
	for i := range l.shards {
		total += len(l.shards[i].m)
	}
	if total > maxLeaseKeys {
		t.Fatalf("%d leases kept, bound is %d", total, maxLeaseKeys)
	}
}

// On a real Redis Cluster of three masters every operation works: each
// script's keys share one slot (no CROSSSLOT), per-key state spreads over
// the nodes, and flags and the bus cross nodes.
func TestRedisOnRedisCluster(t *testing.T) {
	nodes := fgtest.StartRedisCluster(t, 3)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	open := func() *Redis {
		mem, _ := NewMemory(MemoryOptions{Keys: 1024, Flags: 1024})
		r, err := NewRedis(RedisOptions{Addrs: addrs, Timeout: time.Second, BreakerFailures: 1, Fallback: mem, Lease: 5})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	a, b := open(), open()
	waitSubscribed(t, a, b)
	s := a.View(Closed)
	now := time.Now().UnixNano()
	l := Limit{Rate: 1, Per: time.Hour, Burst: 10}
	for key := uint64(1); key <= 64; key++ { // keys over every node
		if ok, _, _ := s.Allow(key, now, l.Emission(), l.Tolerance(), 1); !ok {
			t.Fatalf("key %d: first cell refused", key)
		}
		if v, tr := s.AddTracked(key<<8, 2, int64(time.Minute), now); v != 2 || !tr {
			t.Fatalf("key %d: AddTracked = %d %v", key, v, tr)
		}
		if !s.SpendOnce(key<<16, now+int64(time.Minute), now) {
			t.Fatalf("key %d: spend refused", key)
		}
	}
	s.SetFlag(99, int64(time.Minute), now)
	eventually(t, "flag announced across nodes", func() bool { return b.flags.has(99, time.Now().UnixNano()) })
	s.Forget(99)
	eventually(t, "forget announced", func() bool { return !b.flags.has(99, time.Now().UnixNano()) })
	line := s.Line(7)
	cfg := LineConfig{MaxActive: 1, MaxLength: 10, MaxSessions: 10, Hold: int64(time.Minute),
		Claim: int64(time.Minute), Session: int64(time.Minute)}
	if v, err := line.Visit(1, now, cfg); err != nil || !v.Admitted {
		t.Fatalf("line visit: %+v %v", v, err)
	}
	if v, err := b.View(Closed).Line(7).Visit(2, now, cfg); err != nil || v.Position != 1 {
		t.Fatalf("second visitor from B: %+v %v", v, err)
	}
	if !a.Up() || !b.Up() {
		t.Fatalf("an error opened the breaker: %+v %+v", a.Status(), b.Status())
	}
}
