package hotspot

import (
	"strconv"
	"testing"
)

// BenchmarkObserve is the hot-path cost: one sampled (1 in 8) record of
// a request's item id from many goroutines, as the proxy calls it.
func BenchmarkObserve(b *testing.B) {
	for _, every := range []int{1, 8} {
		b.Run("sample_1_in_"+strconv.Itoa(every), func(b *testing.B) {
			d := New(Options{SampleEvery: every})
			keys := make([][]byte, 1024)
			for i := range keys {
				keys[i] = []byte("item:" + strconv.Itoa(i*7919))
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					d.Observe(KindParam, keys[i&1023])
					i++
				}
			})
		})
	}
}

func BenchmarkIsHot(b *testing.B) {
	d := New(Options{Static: []StaticKey{{KindParam, "item:1"}}})
	key := []byte("item:12345")
	b.ReportAllocs()
	var hot bool
	for b.Loop() {
		hot = d.IsHot(d.Hash(KindParam, key))
	}
	_ = hot
}
