package cluster

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkAllow(b *testing.B) {
	m := newTestMemory(b, 1<<20, 1024)
	l := Limit{Rate: 1000, Per: time.Second, Burst: 100}
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := next.Add(1) << 32
		now := int64(100 * sec)
		i := uint64(0)
		for pb.Next() {
			i++
			now += int64(time.Microsecond)
			m.Allow(key+i&1023, now, l.Emission(), l.Tolerance(), 1)
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	m := newTestMemory(b, 1<<20, 1024)
	b.ReportAllocs()
	now := int64(100 * sec)
	i := uint64(0)
	for b.Loop() {
		i++
		m.Add(i&4095, 1, sec, now)
	}
}

func BenchmarkSpendOnce(b *testing.B) {
	m := newTestMemory(b, 1024, 1<<20)
	b.ReportAllocs()
	now := int64(100 * sec)
	i := uint64(0)
	for b.Loop() {
		i++
		m.SpendOnce(i, now+sec, now)
	}
}

// BenchmarkBytesPerKey reports the heap bytes a Memory holds per tracked
// GCRA key, measured with runtime.MemStats around its construction (the
// table is allocated up front and never grows) and checked against a full
// table.
func BenchmarkBytesPerKey(b *testing.B) {
	for b.Loop() {
		bytesPerKey(b, 1<<20)
	}
}

func bytesPerKey(tb testing.TB, keys int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := newTestMemory(tb, keys, 1024)
	l := Limit{Rate: 1, Per: time.Hour, Burst: 1}
	now := int64(100 * sec)
	for k := range uint64(keys) {
		m.Allow(k, now, l.Emission(), l.Tolerance(), 1)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	tracked := 0
	for k := range uint64(keys) {
		if m.Get(k, now) != 0 {
			tracked++
		}
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(tracked)
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(per, "bytes/key")
		b.ReportMetric(float64(tracked)/float64(keys), "filled")
	}
	runtime.KeepAlive(m)
	return per
}
