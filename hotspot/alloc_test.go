//go:build !race

package hotspot

import "testing"

func TestObserveAllocFree(t *testing.T) {
	d := New(Options{SampleEvery: 2})
	key := []byte("item:12345")
	h := d.Hash(KindParam, key)
	if n := testing.AllocsPerRun(1000, func() {
		d.Observe(KindParam, key)
		d.ObserveHash(KindParam, h, key)
		_ = d.IsHot(h)
	}); n != 0 {
		t.Fatalf("Observe/IsHot allocate %.1f times per call", n)
	}
}
