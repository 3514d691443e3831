package hotspot

import (
	"fmt"
	"log/slog"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// fakeClock is an injected clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestDetector(o Options) (*Detector, *fakeClock, *strings.Builder) {
	clock := &fakeClock{t: time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)}
	logs := &strings.Builder{}
	o.Now = clock.now
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return New(o), clock, logs
}

func hotKeys(d *Detector) map[string]bool {
	m := map[string]bool{}
	for _, k := range d.HotKeys() {
		m[k.Key] = true
	}
	return m
}

// TestZipfTopTenFoundWithinOneSecond: Zipf traffic over 1,000,000 item
// ids at 100,000 requests per second; at T the popularity ranks are
// reshuffled, so ten new keys turn hot at once. Within one second of T
// (injected clock) all ten are in the hot set, the old top ten have
// cooled, and the detector's memory did not grow with the keys seen.
func TestZipfTopTenFoundWithinOneSecond(t *testing.T) {
	const keys = 1_000_000
	d, clock, logs := newTestDetector(Options{Share: 0.005, SampleEvery: 4, Metrics: metrics.NewSet()})
	rng := rand.New(rand.NewSource(1))
	zipf := rand.NewZipf(rng, 1.1, 1, keys-1)
	before, after := rng.Perm(keys), rng.Perm(keys)
	var buf []byte
	var ms runtime.MemStats
	heap := func() uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	run := func(perm []int, d1 time.Duration) {
		// 1,000 requests per 10 ms step, then one analysis step.
		for end := clock.t.Add(d1); clock.t.Before(end); clock.t = clock.t.Add(10 * time.Millisecond) {
			for range 1000 {
				buf = strconv.AppendInt(append(buf[:0], "item:"...), int64(perm[zipf.Uint64()]), 10)
				d.Observe(KindParam, buf)
			}
			d.Step()
		}
	}
	run(before, 2*time.Second)
	heapWarm := heap()
	top := func(perm []int) []string {
		var s []string
		for r := range 10 {
			s = append(s, "item:"+strconv.Itoa(perm[r]))
		}
		return s
	}
	for _, k := range top(before) {
		if !hotKeys(d)[k] {
			t.Fatalf("before the shuffle, top key %s is not hot; hot: %v", k, d.HotKeys())
		}
	}
	run(after, time.Second)
	hot := hotKeys(d)
	for _, k := range top(after) {
		if !hot[k] {
			t.Errorf("%s, a top-10 key after the shuffle, not hot within 1s; hot: %v", k, d.HotKeys())
		}
	}
	run(after, 200*time.Millisecond) // the old keys' last samples leave the window
	hot = hotKeys(d)
	for _, k := range top(before) {
		if hot[k] {
			t.Errorf("%s, top before the shuffle and now a random rank, is still hot", k)
		}
	}
	heapEnd := heap()
	runtime.KeepAlive(before)
	runtime.KeepAlive(after)
	t.Logf("fixed memory: %d bytes (sketch %d, top-K %d, ring %d); heap after 2s of traffic %d, after 1.2s more %d (delta %d bytes) over %d distinct keys",
		d.MemoryBytes(), d.sk.bytes(), d.top.bytes(), len(d.ring.slots)*int(unsafeSizeofSlot), heapWarm, heapEnd, int64(heapEnd)-int64(heapWarm), keys)
	if grow := int64(heapEnd) - int64(heapWarm); grow > 256<<10 {
		t.Errorf("heap grew %d bytes while new keys arrived; the detector's memory must be fixed", grow)
	}
	if !strings.Contains(logs.String(), "hot key cooled") || !strings.Contains(logs.String(), `msg="hot key"`) {
		t.Errorf("no log of keys turning hot and cooling:\n%.2000s", logs.String())
	}
}

// TestRateThresholdAndStatic: the rate threshold, hysteresis-free cooling
// once traffic stops, and static keys that never cool.
func TestRateThresholdAndStatic(t *testing.T) {
	set := metrics.NewSet()
	d, clock, _ := newTestDetector(Options{Rate: 100, Static: []StaticKey{{KindURL, "/sale"}}, Metrics: set})
	if !d.IsHot(d.Hash(KindURL, []byte("/sale"))) {
		t.Fatal("a static hot key is not hot")
	}
	step := func(n int, key string) {
		for i := range n {
			d.Observe(KindClient, []byte(key))
			d.Observe(KindClient, []byte("cold-"+strconv.Itoa(i)+clock.t.String()))
		}
		clock.t = clock.t.Add(100 * time.Millisecond)
		d.Step()
	}
	for range 10 {
		step(5, "10.0.0.1") // 50/s: under the rate
	}
	if d.IsHot(d.Hash(KindClient, []byte("10.0.0.1"))) {
		t.Fatal("a key at 50/s is hot with rate: 100")
	}
	for range 10 {
		step(20, "10.0.0.1") // 200/s
	}
	h := d.Hash(KindClient, []byte("10.0.0.1"))
	if !d.IsHot(h) {
		t.Fatalf("a key at 200/s is not hot with rate: 100; hot: %v", d.HotKeys())
	}
	var sb strings.Builder
	set.WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `flashgate_hotspot_turned_hot_total{kind="client"} 1`) {
		t.Errorf("turning hot not counted:\n%s", sb.String())
	}
	for range 12 {
		step(0, "")
	}
	if d.IsHot(h) {
		t.Error("a key with no traffic for a whole window is still hot")
	}
	if !d.IsHot(d.Hash(KindURL, []byte("/sale"))) || len(d.HotKeys()) != 1 || !d.HotKeys()[0].Static {
		t.Errorf("hot set after cooling: %v, want only the static key", d.HotKeys())
	}
}

// TestLongKeysCountedApart: keys sharing their first 64 bytes are still
// counted apart (the hash covers the whole key).
func TestLongKeysCountedApart(t *testing.T) {
	d, clock, _ := newTestDetector(Options{Rate: 100})
	prefix := strings.Repeat("x", 80)
	for range 50 {
		d.Observe(KindURL, []byte(prefix+"a"))
		d.Observe(KindURL, []byte(prefix+"b"))
	}
	clock.t = clock.t.Add(500 * time.Millisecond)
	d.Step()
	if len(d.HotKeys()) != 0 {
		t.Errorf("two keys at 100 samples/s each turned hot with rate 100 only if merged: %v", d.HotKeys())
	}
	for range 50 {
		d.Observe(KindURL, []byte(prefix+"a"))
	}
	d.Step()
	if !d.IsHot(d.Hash(KindURL, []byte(prefix+"a"))) || d.IsHot(d.Hash(KindURL, []byte(prefix+"b"))) {
		t.Errorf("hot set %v, want only the ...a key", d.HotKeys())
	}
	if got := d.HotKeys()[0].Key; got != prefix[:64] {
		t.Errorf("reported key %q, want its first 64 bytes", got)
	}
}

func TestRingLapDropsAndCounts(t *testing.T) {
	q := newRing(8)
	for i := range 20 {
		q.put(KindURL, uint64(i), []byte(fmt.Sprint(i)))
	}
	var got []uint64
	lost := q.drain(func(s *sample) { got = append(got, s.hash) })
	if lost != 12 || len(got) != 8 || got[0] != 12 {
		t.Errorf("lost %d, got %v; want 12 lost and hashes 12..19", lost, got)
	}
}
